/**
 * The AWS stand-in: the only test double imagegate's tests use. See stand-in.ts.
 *
 *   const aws = await AwsStandIn.start();
 *   new STSClient({ endpoint: aws.url, region: 'eu-west-1', credentials: standInCredentials });
 *   aws.failNext('OutboundWebIdentityFederationDisabledException');
 *   aws.calls('sts:GetWebIdentityToken');
 *   await aws.close();
 */
export { AwsStandIn, STANDIN_ACCESS_KEY_ID, STANDIN_ACCOUNT, STANDIN_ECR_PASSWORD, STANDIN_NODE_ROLE, STANDIN_SECRET_ACCESS_KEY } from './stand-in';
export type { SeenRequest, StandInOptions } from './stand-in';
export type { OidcProvider } from './web-identity';
export type { SigningAlgorithm } from './keys';
import { STANDIN_ACCESS_KEY_ID, STANDIN_SECRET_ACCESS_KEY } from './stand-in';

/** Static credentials for SDK clients pointed at the stand-in. */
export const standInCredentials = { accessKeyId: STANDIN_ACCESS_KEY_ID, secretAccessKey: STANDIN_SECRET_ACCESS_KEY };
