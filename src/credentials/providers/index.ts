export { builtinProviderFactories, providerFactories } from './builtins';
export { fromEcr, ecrParams } from './ecr';
export { fromStsJwt, stsJwtParams } from './sts-jwt';
export { fromDockerConfigFile, dockerConfigFileParams } from './static';
export { fromKubelet } from './kubelet';
export { fromGcpAccessToken, gcpAccessTokenParams } from './gcp-access-token';
export { fromGcpIdToken, gcpIdTokenParams } from './gcp-id-token';
export { fromAwsIam, awsIamParams } from './aws-iam';
