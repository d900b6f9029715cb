/**
 * A trivial fastify endpoint for the driver benchmark, in its own process:
 * `GET /` → 200 `{"hello":"world"}`. Prints `listening on http://127.0.0.1:PORT` when ready; exits on
 * SIGTERM or when its parent goes away (stdin closes).
 */
import Fastify from 'fastify';

const app = Fastify({ logger: false });
app.get('/', async () => ({ hello: 'world' }));
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? '0') });
const address = app.server.address();
const port = typeof address === 'object' && address ? address.port : 0;
process.stdout.write(`listening on http://127.0.0.1:${port}\n`);
const stop = (): void => {
  void app.close().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.resume();
