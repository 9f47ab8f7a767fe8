#!/usr/bin/env bash
# Starts a real OpenLDAP slapd on ldap://127.0.0.1:3890/ for the registry's
# `ldap` authenticator tests: its own cn=config directory and mdb database
# under .ci/work/slapd/, built with slapadd from the LDIF below. Idempotent:
# exits at once when the test directory already answers; rebuilds the
# directory only when its config is missing.
#
# Test directory (passwords are for tests only):
#   service  cn=imagegate,ou=services,dc=imagegate,dc=test  svc-s3cret
#   users    uid=alice (alice-s3cret; developers), uid=bob (bob-s3cret; developers, admins),
#            uid=carol (carol-s3cret; no group)       under ou=people,dc=imagegate,dc=test
#   groups   cn=developers, cn=admins (groupOfNames)  under ou=groups,dc=imagegate,dc=test
set -euo pipefail
cd "$(dirname "$0")/../.."
url=ldap://127.0.0.1:3890/
base=dc=imagegate,dc=test
service_dn="cn=imagegate,ou=services,$base"
work=$PWD/.ci/work/slapd

answers() {
  ldapsearch -x -LLL -H "$url" -D "$service_dn" -w svc-s3cret -b "ou=people,$base" '(uid=alice)' dn >/dev/null 2>&1
}

if answers; then echo "slapd already answering on $url"; exit 0; fi

if [ ! -d "$work/slapd.d/cn=config" ]; then
  rm -rf "$work"
  mkdir -p "$work/slapd.d" "$work/data"
  cat >"$work/config.ldif" <<EOF
dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: $work/slapd.pid
olcArgsFile: $work/slapd.args

dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file:///etc/ldap/schema/core.ldif
include: file:///etc/ldap/schema/cosine.ldif
include: file:///etc/ldap/schema/inetorgperson.ldif

dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend
olcSizeLimit: 500

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: {0}to * by * none

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcDbDirectory: $work/data
olcSuffix: $base
olcRootDN: cn=admin,$base
olcRootPW: root-s3cret
olcDbMaxSize: 67108864
olcDbIndex: objectClass eq
olcDbIndex: uid eq
olcDbIndex: member eq
olcAccess: {0}to attrs=userPassword by anonymous auth by * none
olcAccess: {1}to * by dn.exact="$service_dn" read by self read by * none
EOF
  hash() { slappasswd -h '{SSHA}' -s "$1"; }
  cat >"$work/directory.ldif" <<EOF
dn: $base
objectClass: dcObject
objectClass: organization
dc: imagegate
o: imagegate tests

dn: ou=people,$base
objectClass: organizationalUnit
ou: people

dn: ou=groups,$base
objectClass: organizationalUnit
ou: groups

dn: ou=services,$base
objectClass: organizationalUnit
ou: services

dn: $service_dn
objectClass: applicationProcess
objectClass: simpleSecurityObject
cn: imagegate
userPassword: $(hash svc-s3cret)

dn: uid=alice,ou=people,$base
objectClass: inetOrgPerson
uid: alice
cn: Alice Example
sn: Example
mail: alice@imagegate.test
userPassword: $(hash alice-s3cret)

dn: uid=bob,ou=people,$base
objectClass: inetOrgPerson
uid: bob
cn: Bob Example
sn: Example
userPassword: $(hash bob-s3cret)

dn: uid=carol,ou=people,$base
objectClass: inetOrgPerson
uid: carol
cn: Carol Example
sn: Example
userPassword: $(hash carol-s3cret)

dn: cn=developers,ou=groups,$base
objectClass: groupOfNames
cn: developers
member: uid=alice,ou=people,$base
member: uid=bob,ou=people,$base

dn: cn=admins,ou=groups,$base
objectClass: groupOfNames
cn: admins
member: uid=bob,ou=people,$base
EOF
  slapadd -q -n 0 -F "$work/slapd.d" -l "$work/config.ldif"
  slapadd -q -n 1 -F "$work/slapd.d" -l "$work/directory.ldif"
fi

if [ -f "$work/slapd.pid" ] && kill -0 "$(cat "$work/slapd.pid")" 2>/dev/null; then
  kill "$(cat "$work/slapd.pid")"
  for _ in $(seq 1 50); do kill -0 "$(cat "$work/slapd.pid")" 2>/dev/null || break; sleep 0.1; done
fi
nohup slapd -d stats -h "$url" -F "$work/slapd.d" >"$work/slapd.log" 2>&1 &
for _ in $(seq 1 50); do
  answers && { echo "slapd up on $url"; exit 0; }
  sleep 0.2
done
echo "slapd did not answer on $url; last log lines:" >&2
tail -20 "$work/slapd.log" >&2
exit 1
