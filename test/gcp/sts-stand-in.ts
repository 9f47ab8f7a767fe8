import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { STANDIN_GCP_ACCESS_TOKEN } from '../../testing/gcp/metadata-stand-in';

export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const AWS_SUBJECT_TOKEN = 'urn:ietf:params:aws:token-type:aws4_request';
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
/** The workload identity pool provider the stand-in federates (the `audience` of the external-account file). */
export const STANDIN_WIF_AUDIENCE = '//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/eks/providers/aws';

/**
 * A loopback Google Security Token Service (sts.googleapis.com `POST /v1/token`,
 * RFC 8693 token exchange as Google documents it for AWS workload identity
 * federation, 2025), for google-auth-library's AwsClient (10.9): the subject
 * token is the URL-encoded JSON of a SigV4-signed `GetCallerIdentity` POST
 * (`{url, method, headers: [{key, value}]}`, with `x-goog-cloud-target-resource`
 * = the provider's audience); like Google, the stand-in checks the form
 * (grant type, subject and requested token types, audience, scope), sends
 * the signed request to AWS and exchanges an answered identity for an access
 * token. The signed request must name a regional AWS STS host
 * (`sts.<region>.amazonaws.com`, as google-auth-library's default
 * `regional_cred_verification_url` does); the stand-in delivers it to the AWS
 * stand-in with its Host header intact. Errors are `{error, error_description}` with 400 (`invalid_request`,
 * `invalid_grant`) or 401 (`unauthorized_client`).
 */
export class GoogleStsStandIn {
  readonly url: string;
  /** The federated access token handed out. */
  accessToken = STANDIN_GCP_ACCESS_TOKEN;
  /** Exchanges asked for, and the AWS ARNs they were granted for. */
  readonly exchanges: { arn?: string; error?: string }[] = [];

  private constructor(
    private readonly server: http.Server,
    private readonly awsSts: string,
    private readonly audience: string,
  ) {
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    server.on('request', (req, res) => void this.handle(req, res));
  }

  /** `awsSts`: where signed requests for `sts.<region>.amazonaws.com` go (the AWS stand-in). */
  static async start(awsSts: string, audience = STANDIN_WIF_AUDIENCE): Promise<GoogleStsStandIn> {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    return new GoogleStsStandIn(server, awsSts, audience);
  }

  /**
   * The external-account file `gcloud iam workload-identity-pools create-cred-config … --aws` writes,
   * with `token_url` pointing here. The region and AWS keys come from AWS_REGION and
   * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, as google-auth-library reads them.
   */
  externalAccount(): Record<string, unknown> {
    return {
      type: 'external_account',
      audience: this.audience,
      subject_token_type: AWS_SUBJECT_TOKEN,
      token_url: `${this.url}/v1/token`,
      credential_source: {
        environment_id: 'aws1',
        region_url: 'http://169.254.169.254/latest/meta-data/placement/availability-zone',
        url: 'http://169.254.169.254/latest/meta-data/iam/security-credentials',
        regional_cred_verification_url: 'https://sts.{region}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15',
      },
    };
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const send = (status: number, doc: unknown): void => void res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(doc));
    const fail = (status: number, error: string, description: string) => {
      this.exchanges.push({ error: `${error}: ${description}` });
      send(status, { error, error_description: description });
    };
    if (req.method !== 'POST' || req.url !== '/v1/token') return void send(404, { error: 'not_found' });
    const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    if (form.get('grant_type') !== TOKEN_EXCHANGE) return fail(400, 'invalid_request', 'Invalid value for "grant_type".');
    if (form.get('requested_token_type') !== ACCESS_TOKEN_TYPE) return fail(400, 'invalid_request', 'Invalid value for "requested_token_type".');
    if (form.get('subject_token_type') !== AWS_SUBJECT_TOKEN) return fail(400, 'invalid_request', 'Invalid value for "subject_token_type".');
    if (form.get('audience') !== this.audience) return fail(400, 'invalid_target', 'The target service indicated by the "audience" parameters is invalid.');
    if (!form.get('scope')) return fail(400, 'invalid_scope', 'Missing "scope".');
    let signed: { url?: string; method?: string; headers?: { key: string; value: string }[] };
    try {
      signed = JSON.parse(decodeURIComponent(form.get('subject_token') ?? ''));
    } catch {
      return fail(400, 'invalid_grant', 'The subject token is not a serialized AWS request.');
    }
    const headers = Object.fromEntries((signed.headers ?? []).map((h) => [h.key.toLowerCase(), h.value]));
    if (headers['x-goog-cloud-target-resource'] !== this.audience) return fail(400, 'invalid_grant', 'The x-goog-cloud-target-resource header does not name the provider.');
    let target: URL;
    try {
      target = new URL(signed.url ?? '');
    } catch {
      return fail(400, 'invalid_grant', 'The subject token has no URL.');
    }
    if (signed.method !== 'POST' || target.protocol !== 'https:' || !/^sts\.[a-z0-9-]+\.amazonaws\.com$/.test(target.host)) {
      return fail(400, 'invalid_grant', 'The subject token must be a signed POST to a regional AWS STS endpoint.');
    }
    if (target.searchParams.get('Action') !== 'GetCallerIdentity') return fail(400, 'invalid_grant', 'The subject token is not a GetCallerIdentity request.');
    const answer = await this.replay(target, headers);
    if (!answer) return fail(503, 'temporarily_unavailable', 'AWS is not reachable.');
    const arn = /<Arn>([^<]+)<\/Arn>/.exec(answer.text)?.[1];
    if (answer.status !== 200 || !arn) return fail(401, 'unauthorized_client', `AWS refused the request (${answer.status}).`);
    this.exchanges.push({ arn });
    send(200, { access_token: this.accessToken, issued_token_type: ACCESS_TOKEN_TYPE, token_type: 'Bearer', expires_in: 3600 });
  }

  /** Sends the signed request, Host header and all, to the AWS stand-in standing in for that regional STS host. */
  private replay(target: URL, headers: Record<string, string>): Promise<{ status: number; text: string } | undefined> {
    const aws = new URL(this.awsSts);
    return new Promise((resolve) => {
      const req = http.request({ host: aws.hostname, port: aws.port, method: 'POST', path: target.pathname + target.search, headers: { ...headers, host: target.host } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.once('error', () => resolve(undefined));
      req.end();
    });
  }
}
