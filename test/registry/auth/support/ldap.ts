/**
 * The test directory that .ci/services/55-slapd.sh loads into a real slapd on
 * ldap://127.0.0.1:3890/ (override with IMAGEGATE_TEST_LDAP).
 */
export const LDAP_HOST_PORT = process.env.IMAGEGATE_TEST_LDAP || '127.0.0.1:3890';
export const LDAP_BASE = 'dc=imagegate,dc=test';

/** `ldap` authenticator options for the test directory. */
export const ldapOptions = () => ({
  url: `ldap://${LDAP_HOST_PORT}`,
  bindDN: `cn=imagegate,ou=services,${LDAP_BASE}`,
  bindPassword: 'svc-s3cret',
  userBase: `ou=people,${LDAP_BASE}`,
  groupBase: `ou=groups,${LDAP_BASE}`,
  timeout: '3s',
});

export const LDAP_USERS = {
  alice: { password: 'alice-s3cret', groups: ['developers'] },
  bob: { password: 'bob-s3cret', groups: ['developers', 'admins'] },
  carol: { password: 'carol-s3cret', groups: [] as string[] },
};
