/**
 * A private redis-server for tests: on a free loopback port, in its own temporary folder,
 * stopped (and its folder removed) afterwards, and killed if the test process exits first.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** Path of `redis-server` on PATH, or undefined. */
export function findRedisServer(): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const candidate = path.join(dir, 'redis-server');
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** A TCP port nobody listens on right now (on 127.0.0.1). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** How a test server runs. */
export interface RedisServerOptions {
  /** The redis-server binary. Default: the one on PATH. */
  binary?: string;
  /** Durable: `appendonly yes` with `appendfsync always`, so a killed server loses no acknowledged write. Default false (`save ''`, nothing on disk). */
  appendonly?: boolean;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** One redis-server child process. */
export class RedisServer {
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #log = '';

  private constructor(
    readonly binary: string,
    readonly port: number,
    readonly dir: string,
    readonly appendonly: boolean,
  ) {}

  /** Starts a server on a free port; retries with another port if that one was taken meanwhile. */
  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    const binary = options.binary ?? findRedisServer();
    if (binary === undefined) throw new Error('redis-server not found on PATH: apt-get install redis-server');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pipe-io-redis-'));
    let lastError: unknown;
    for (let attempt = 0; attempt < 5; attempt++) {
      const server = new RedisServer(binary, await freePort(), dir, options.appendonly ?? false);
      try {
        await server.#launch();
        return server;
      } catch (error) {
        lastError = error;
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
    throw lastError;
  }

  /** `redis://127.0.0.1:PORT`. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** What the server logged (last 8 KB), for failure messages. */
  get log(): string {
    return this.#log;
  }

  async #launch(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--daemonize', 'no', '--logfile', '', '--save', ''];
    args.push(...(this.appendonly ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']));
    const child = spawn(this.binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(child);
    this.#child = child;
    this.#exited = new Promise((resolve) =>
      child.once('exit', () => {
        live.delete(child);
        resolve();
      }),
    );
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`redis-server did not start within 10 s:\n${this.#log}`)), 10_000);
      const onData = (chunk: Buffer): void => {
        this.#log = (this.#log + chunk.toString()).slice(-8192);
        if (this.#log.includes('Ready to accept connections')) done();
      };
      const onExit = (): void => fail(new Error(`redis-server exited at start:\n${this.#log}`));
      const cleanup = (): void => {
        clearTimeout(timer);
        child.off('exit', onExit);
      };
      const done = (): void => {
        cleanup();
        resolve();
      };
      const fail = (error: Error): void => {
        cleanup();
        child.kill('SIGKILL');
        reject(error);
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', onExit);
    });
  }

  /** Kills the server at once (SIGKILL): what is not on disk is gone. */
  async kill(): Promise<void> {
    this.#child?.kill('SIGKILL');
    await this.#exited;
  }

  /** Starts it again on the same port and folder (so an append-only file is loaded). */
  async restart(): Promise<void> {
    await this.kill();
    this.#log = '';
    await this.#launch();
  }

  /** Stops the server and removes its folder. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await this.#exited;
      clearTimeout(timer);
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A TCP proxy in front of Redis that can lose one reply on purpose: the command reaches Redis
 * and takes effect, then the connection drops before the client sees the answer. That is the
 * case a retry must not turn into a duplicate, and a read must not turn into a loss.
 */
export class ReplyDropProxy {
  #server: net.Server;
  #sockets = new Set<net.Socket>();
  #pattern: string | undefined;
  /** How many replies were dropped. */
  dropped = 0;

  private constructor(
    server: net.Server,
    readonly port: number,
  ) {
    this.#server = server;
  }

  /** Listens on a free loopback port and forwards to Redis on `upstreamPort`. */
  static async start(upstreamPort: number): Promise<ReplyDropProxy> {
    let proxy: ReplyDropProxy | undefined;
    const server = net.createServer((client) => proxy!.#connect(client, upstreamPort));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    proxy = new ReplyDropProxy(server, (server.address() as net.AddressInfo).port);
    return proxy;
  }

  /** `redis://127.0.0.1:PORT` of the proxy. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** The next command whose bytes contain `pattern` is executed, and its reply lost with the connection. */
  dropReplyTo(pattern: string): void {
    this.#pattern = pattern;
  }

  #connect(client: net.Socket, upstreamPort: number): void {
    const upstream = net.connect(upstreamPort, '127.0.0.1');
    this.#sockets.add(client).add(upstream);
    let doomed = false;
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      this.#sockets.delete(client);
      this.#sockets.delete(upstream);
    };
    client.on('data', (chunk: Buffer) => {
      if (this.#pattern !== undefined && chunk.includes(this.#pattern)) {
        this.#pattern = undefined;
        doomed = true;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!doomed) {
        client.write(chunk);
        return;
      }
      this.dropped++;
      end();
    });
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  }

  /** Closes every connection and stops listening. */
  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/**
 * For a mocha suite: a private redis-server started before the suite (handed to `use`) and
 * stopped after it. Without redis-server on PATH the suite is skipped with a message, unless
 * CI=true: then it fails, since CI must run these tests.
 */
export function redisForSuite(use: (server: RedisServer) => void): void {
  let redis: RedisServer | undefined;
  before(async function () {
    const binary = findRedisServer();
    if (binary === undefined) {
      if (process.env['CI'] === 'true') throw new Error('redis-server is not on PATH, and CI=true requires these tests: apt-get install redis-server');
      console.log('    (skipped: redis-server is not on PATH; apt-get install redis-server to run these tests)');
      this.skip();
    }
    redis = await RedisServer.start({ binary });
    use(redis);
  });
  after(async () => {
    await redis?.stop();
  });
}
