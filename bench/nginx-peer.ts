import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Starts nginx, the peer the registry benchmarks measure against, in the
 * foreground with everything under `root`: no access log, temp files in
 * `root/tmp`, `workers` processes, and `http` as the rest of its http block
 * (servers, sendfile, keep-alive). Resolves with the child once spawned; the
 * caller waits for its port.
 */
export function spawnNginx(root: string, workers: number | 'auto', http: string): ChildProcess {
  mkdirSync(join(root, 'tmp'), { recursive: true });
  const conf = join(root, 'nginx.conf');
  writeFileSync(
    conf,
    `worker_processes ${workers};
user root root;
pid ${root}/nginx.pid;
error_log ${root}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${root}/tmp/body;
  proxy_temp_path ${root}/tmp/proxy;
  fastcgi_temp_path ${root}/tmp/fastcgi;
  uwsgi_temp_path ${root}/tmp/uwsgi;
  scgi_temp_path ${root}/tmp/scgi;
${http}
}
`,
  );
  return spawn('nginx', ['-p', root, '-c', conf, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'inherit'] });
}
