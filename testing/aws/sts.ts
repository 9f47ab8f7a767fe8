import { randomUUID } from 'node:crypto';
import { AwsFault, faultOf } from './fault';
import type { SigningKeys, SigningAlgorithm } from './keys';
import type { Principal, Principals } from './principals';

/** The STS Query protocol namespace, on every response and error document. */
export const STS_XMLNS = 'https://sts.amazonaws.com/doc/2011-06-15/';

/** What an STS action needs from the stand-in. */
export interface StsContext {
  params: URLSearchParams;
  principal: Principal;
  region: string;
  now: number;
  issuer: string;
  keys: SigningKeys;
  principals: Principals;
  /** The last JWT minted, decoded claims and all, for tests that want to look. */
  onJwt: (jwt: string) => void;
}

/** Runs one STS action and answers its XML document; throws AwsFault for AWS errors. */
export async function stsAction(action: string, ctx: StsContext): Promise<string> {
  switch (action) {
    case 'GetWebIdentityToken':
      return getWebIdentityToken(ctx);
    case 'AssumeRole':
      return assumeRole(ctx);
    case 'GetCallerIdentity':
      return response(action, `<Arn>${xml(ctx.principal.arn)}</Arn><UserId>AROASTANDIN:${ctx.principal.account}</UserId><Account>${ctx.principal.account}</Account>`);
    default:
      throw new AwsFault('InvalidAction', 400, `Could not find operation ${action} for version 2011-06-15`);
  }
}

async function getWebIdentityToken(ctx: StsContext): Promise<string> {
  const audiences = members(ctx.params, 'Audience');
  if (audiences.length < 1 || audiences.length > 10) {
    throw faultOf('ValidationError', `1 validation error detected: Value at 'audience' failed to satisfy constraint: Member must have length between 1 and 10`);
  }
  if (audiences.some((a) => a.length < 1 || a.length > 1000)) {
    throw faultOf('ValidationError', 'Audience members must have length between 1 and 1000');
  }
  const alg = ctx.params.get('SigningAlgorithm');
  if (alg !== 'RS256' && alg !== 'ES384') {
    throw faultOf('ValidationError', `Value '${alg ?? ''}' at 'signingAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: [RS256, ES384]`);
  }
  const duration = Number(ctx.params.get('DurationSeconds') ?? 300);
  if (!Number.isInteger(duration) || duration < 60 || duration > 3600) {
    throw faultOf('ValidationError', `Value '${duration}' at 'durationSeconds' failed to satisfy constraint: Member must be between 60 and 3600`);
  }
  const expSeconds = Math.floor(ctx.now / 1000) + duration;
  const sessionEnd = ctx.principal.sessionExpiresAt;
  if (sessionEnd !== undefined && expSeconds * 1000 > sessionEnd) {
    throw faultOf('SessionDurationEscalationException', 'The requested token duration would extend the session beyond its original expiration time.');
  }
  const tags = tagMembers(ctx.params);
  if (Object.keys(tags).length > 50 || JSON.stringify(tags).length > 2048) {
    throw faultOf('JWTPayloadSizeExceededException', 'The requested token payload size exceeds the maximum allowed size.');
  }
  const iat = Math.floor(ctx.now / 1000);
  const jwt = await ctx.keys.sign(alg as SigningAlgorithm, {
    iss: ctx.issuer,
    sub: ctx.principal.arn,
    aud: audiences.length === 1 ? audiences[0] : audiences,
    iat,
    exp: iat + duration,
    jti: randomUUID(),
    'https://sts.amazonaws.com/': {
      aws_account: ctx.principal.account,
      source_region: ctx.region,
      principal_id: ctx.principal.arn,
      org_id: 'o-standin0001',
      ou_path: ['o-standin0001/r-ab12/ou-ab12-standin1/'],
      ...(ctx.principal.sessionExpiresAt ? { original_session_exp: new Date(ctx.principal.sessionExpiresAt).toISOString() } : {}),
      ...(Object.keys(tags).length > 0 ? { request_tags: tags } : {}),
    },
  });
  ctx.onJwt(jwt);
  const expiration = new Date((iat + duration) * 1000).toISOString();
  return response('GetWebIdentityToken', `<WebIdentityToken>${xml(jwt)}</WebIdentityToken><Expiration>${expiration}</Expiration>`);
}

function assumeRole(ctx: StsContext): string {
  const roleArn = ctx.params.get('RoleArn') ?? '';
  const sessionName = ctx.params.get('RoleSessionName') ?? '';
  const m = /^arn:aws[a-z-]*:iam::(\d{12}):role\/(?:.*\/)?([\w+=,.@-]+)$/.exec(roleArn);
  if (!m) throw faultOf('ValidationError', `${roleArn} is invalid`);
  if (!/^[\w+=,.@-]{2,64}$/.test(sessionName)) throw faultOf('ValidationError', `RoleSessionName '${sessionName}' is invalid`);
  const duration = Number(ctx.params.get('DurationSeconds') ?? 3600);
  if (!Number.isInteger(duration) || duration < 900 || duration > 43200) throw faultOf('ValidationError', `DurationSeconds ${duration} is out of range`);
  const creds = ctx.principals.assume(roleArn, duration, ctx.now);
  return response(
    'AssumeRole',
    `<AssumedRoleUser><AssumedRoleId>AROASTANDIN:${xml(sessionName)}</AssumedRoleId>` +
      `<Arn>arn:aws:sts::${m[1]}:assumed-role/${xml(m[2])}/${xml(sessionName)}</Arn></AssumedRoleUser>` +
      `<Credentials><AccessKeyId>${creds.accessKeyId}</AccessKeyId><SecretAccessKey>${xml(creds.secretAccessKey)}</SecretAccessKey>` +
      `<SessionToken>${xml(creds.sessionToken)}</SessionToken><Expiration>${new Date(creds.expiresAt).toISOString()}</Expiration></Credentials>`,
  );
}

/** `<ActionResponse xmlns=…><ActionResult>…</ActionResult><ResponseMetadata>…` */
export const stsResponse = response;
function response(action: string, result: string): string {
  return (
    `<${action}Response xmlns="${STS_XMLNS}"><${action}Result>${result}</${action}Result>` +
    `<ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></${action}Response>`
  );
}

/** The Query protocol error document. */
export function stsError(fault: AwsFault): string {
  const type = fault.status >= 500 ? 'Receiver' : 'Sender';
  return (
    `<ErrorResponse xmlns="${STS_XMLNS}"><Error><Type>${type}</Type><Code>${xml(fault.code)}</Code>` +
    `<Message>${xml(fault.message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`
  );
}

function members(params: URLSearchParams, name: string): string[] {
  const out: string[] = [];
  for (let i = 1; i <= 1000 && params.has(`${name}.member.${i}`); i++) out.push(params.get(`${name}.member.${i}`) ?? '');
  return out;
}

function tagMembers(params: URLSearchParams): Record<string, string> {
  const tags: Record<string, string> = {};
  for (let i = 1; i <= 1000 && params.has(`Tags.member.${i}.Key`); i++) {
    tags[params.get(`Tags.member.${i}.Key`) ?? ''] = params.get(`Tags.member.${i}.Value`) ?? '';
  }
  return tags;
}

/** Escapes text for an XML element. */
export const xmlText = xml;
function xml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
