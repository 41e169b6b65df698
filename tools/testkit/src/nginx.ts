import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from './ports.js';
import { findTool } from './tools.js';

/** Options of {@link startNginx}. */
export interface NginxOptions {
  /** The directory served at `/`. */
  readonly root: string;
  /** Extra directives inside the `server { }` block. */
  readonly serverConfig?: string;
  /** Log every request, for {@link RunningNginx.readAccessLog} (default false: no access log). */
  readonly accessLog?: boolean;
}

/** One request from nginx's access log (see {@link NginxOptions.accessLog}). */
export interface NginxAccessLogEntry {
  /** The request line, e.g. `GET /new.tar HTTP/1.1`. */
  readonly request: string;
  /** The response status. */
  readonly status: number;
  /** `$bytes_sent`: bytes sent to the client, headers included. */
  readonly bytesSent: number;
  /** `$request_length`: bytes of the request, line and headers included. */
  readonly requestLength: number;
  /** The request's `Range` header, or `-` when it had none. */
  readonly range: string;
  /** `$body_bytes_sent`: bytes of the response body (without the status line and headers). */
  readonly bodyBytesSent: number;
}

/** A running nginx. */
export interface RunningNginx {
  /** `http://127.0.0.1:<port>` (no trailing slash). */
  readonly url: string;
  /** The port it listens on. */
  readonly port: number;
  /**
   * The requests logged so far, oldest first; empty unless started with `accessLog: true`.
   * nginx writes an entry when a response is complete.
   */
  readAccessLog(): Promise<NginxAccessLogEntry[]>;
  /** Stops it and removes its temporary directory. */
  close(): Promise<void>;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => {
      done(false);
    });
  });
}

/**
 * Starts the real nginx (`/usr/sbin/nginx`) serving `root` on 127.0.0.1 with a free port, as
 * the current user (root included): one process (`master_process off`), so no `user`
 * directive is needed; its config, pid, logs and temp paths live in a temporary directory.
 *
 * @param options - the directory to serve
 * @returns the URL and a `close()`
 * @throws Error when nginx is not installed or does not start within 10 s (the error log is
 *   in the message)
 */
export async function startNginx(options: NginxOptions): Promise<RunningNginx> {
  const nginx = findTool('nginx');
  if (nginx === undefined) throw new Error('nginx is not installed');
  const dir = await mkdtemp(join(tmpdir(), 'gosync-nginx-'));
  const port = await freePort();
  const errorLog = join(dir, 'error.log');
  const accessLog = join(dir, 'access.log');
  // Tab-separated; the request line and Range header are escaped by nginx, so they hold no tab.
  const logging = options.accessLog === true
    ? `log_format gosync_bench '$request\t$status\t$bytes_sent\t$request_length\t$http_range\t$body_bytes_sent';
  access_log ${accessLog} gosync_bench;`
    : 'access_log off;';
  const conf = `
daemon off;
master_process off;
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${errorLog} warn;
events { worker_connections 64; }
http {
  ${logging}
  client_body_temp_path ${join(dir, 'body')};
  proxy_temp_path ${join(dir, 'proxy')};
  fastcgi_temp_path ${join(dir, 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'uwsgi')};
  scgi_temp_path ${join(dir, 'scgi')};
  types { application/octet-stream bin; }
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:${port};
    root ${resolve(options.root)};
    ${options.serverConfig ?? ''}
  }
}
`;
  const confPath = join(dir, 'nginx.conf');
  await writeFile(confPath, conf);
  const child = spawn(nginx, ['-p', dir, '-e', errorLog, '-c', confPath], { stdio: 'ignore' });
  const state = { exited: false };
  child.once('exit', () => {
    state.exited = true;
  });
  const deadline = Date.now() + 10_000;
  while (!(await canConnect(port))) {
    if (state.exited || Date.now() > deadline) {
      child.kill('SIGKILL');
      const log = await readFile(errorLog, 'utf8').catch(() => '');
      await rm(dir, { recursive: true, force: true });
      throw new Error(`nginx did not start on port ${port}: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    async readAccessLog() {
      if (options.accessLog !== true) return [];
      const text = await readFile(accessLog, 'utf8').catch(() => '');
      return text.split('\n').filter((line) => line !== '').map((line) => {
        const [request = '', status = '0', bytesSent = '0', requestLength = '0', range = '-', body = '0'] = line.split('\t');
        return { request, status: Number(status), bytesSent: Number(bytesSent), requestLength: Number(requestLength), range, bodyBytesSent: Number(body) };
      });
    },
    async close() {
      if (!state.exited) {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await gone;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
