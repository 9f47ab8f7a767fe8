import { Factories } from '../../lib/factory-registry';
import type { AuthenticatorFactories } from './authenticator';
import { awsIamAuthenticator } from './authenticators/aws-iam';
import { htpasswdAuthenticator } from './authenticators/htpasswd';
import { jwtAuthenticator } from './authenticators/jwt';
import { ldapAuthenticator } from './authenticators/ldap';
import { moduleAuthenticator } from './authenticators/module';
import { introspectionAuthenticator } from './authenticators/oauth2-introspection';
import { listedUsersAuthenticator } from './authenticators/static';
import { webhookAuthenticator } from './authenticators/webhook';

/** An empty set of authenticator factories, for a chain of the caller's own types. */
export function authenticatorFactories(): AuthenticatorFactories {
  return new Factories('authenticator type');
}

/** The built-in authenticators, registered here and nowhere else (in name order, as messages list them). */
export function builtinAuthenticatorFactories(): AuthenticatorFactories {
  return authenticatorFactories()
    .register(awsIamAuthenticator)
    .register(htpasswdAuthenticator)
    .register(jwtAuthenticator)
    .register(ldapAuthenticator)
    .register(moduleAuthenticator)
    .register(introspectionAuthenticator)
    .register(listedUsersAuthenticator)
    .register(webhookAuthenticator);
}
