/** An AWS error the stand-in answers with: wire code, HTTP status and message. */
export class AwsFault extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** HTTP status AWS uses for each error code the stand-in can be told to produce. */
const STATUS: Record<string, number> = {
  OutboundWebIdentityFederationDisabledException: 403,
  SessionDurationEscalationException: 403,
  JWTPayloadSizeExceededException: 400,
  AccessDenied: 403,
  AccessDeniedException: 400,
  ExpiredToken: 400,
  InvalidClientTokenId: 403,
  MissingAuthenticationToken: 403,
  IncompleteSignature: 400,
  SignatureDoesNotMatch: 403,
  ValidationError: 400,
  InvalidParameterException: 400,
  Throttling: 400,
  ThrottlingException: 400,
  ServerException: 500,
  InternalFailure: 500,
  ServiceUnavailable: 503,
};

/** A fault for `code` with AWS's status for it (400 for codes it does not know). */
export function faultOf(code: string, message = `stand-in was told to fail with ${code}`): AwsFault {
  return new AwsFault(code, STATUS[code] ?? 400, message);
}
