import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType as CriGrpcType } from '../generated/api';
import type { ProtoGrpcType as HealthGrpcType } from '../generated/health';

/** The repository's proto/ folder, found from src/ (tsx) and dist/src/ (built). */
export const PROTO_DIR: string = [join(__dirname, '../../proto'), join(__dirname, '../../../proto')].find((d) =>
  existsSync(join(d, 'runtime/v1/api.proto')),
) ?? join(__dirname, '../../proto');

/**
 * The one set of proto-loader options. The handler types in src/generated are
 * generated with the same choices (see the `gen` script in package.json):
 * camelCase fields, 64-bit integers as strings, enums as strings, defaults filled.
 */
export const PROTO_LOADER_OPTS: protoLoader.Options = {
  keepCase: false,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_DIR],
};

let cri: CriGrpcType | undefined;
let health: HealthGrpcType | undefined;

/** The runtime.v1 package, loaded once at run time from proto/runtime/v1/api.proto. */
export function criProto(): CriGrpcType {
  cri ??= grpc.loadPackageDefinition(protoLoader.loadSync('runtime/v1/api.proto', PROTO_LOADER_OPTS)) as unknown as CriGrpcType;
  return cri;
}

/** The grpc.health.v1 package. */
export function healthProto(): HealthGrpcType {
  health ??= grpc.loadPackageDefinition(protoLoader.loadSync('grpc/health/v1/health.proto', PROTO_LOADER_OPTS)) as unknown as HealthGrpcType;
  return health;
}
