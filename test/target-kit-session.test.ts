/**
 * BuyerSession over real sockets: cookies across steps and redirect hops, redirect semantics,
 * CSRF tokens across pages, per-buyer client addresses, and every failure as an answer.
 */
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { BuyerSession } from '../harness/targets/kit/index.js';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { cookiesOf, fieldsOf, html, startServer } from './helpers/kit-server.js';

const defer = cleanupAfterEach();

function session(options: ConstructorParameters<typeof BuyerSession>[0] = {}): BuyerSession {
  const created = new BuyerSession(options);
  defer(() => created.close());
  return created;
}

describe('BuyerSession: cookies and redirects', () => {
  it('carries the cookie set at login (on its redirect) to the redirect target and to later steps', async () => {
    const base = await startServer(defer, (app) => {
      app.post('/login', async (request, reply) => {
        expect(fieldsOf(request)).toEqual({ email: 'ann@example.test', password: 'pw' });
        return reply.header('set-cookie', 'sid=S-ann; Path=/; HttpOnly').redirect('/account', 303);
      });
      app.get('/account', async (request, reply) => (cookiesOf(request).sid === 'S-ann' ? reply.type('text/html').send(html('<h1>Hello Ann</h1>')) : reply.code(401).send('login first')));
      app.get('/orders', async (request) => ({ sid: cookiesOf(request).sid ?? null }));
    });
    const buyer = session();
    const login = await buyer.submitForm({ url: `${base}/login`, fields: { email: 'ann@example.test', password: 'pw' } });
    expect(login.error).toBeUndefined();
    expect(login.status).toBe(200);
    expect(login.url).toBe(`${base}/account`);
    expect(login.hops.map((hop) => [hop.method, new URL(hop.url).pathname, hop.status])).toEqual([
      ['POST', '/login', 303],
      ['GET', '/account', 200],
    ]);
    expect(login.hops[0]!.location).toBe('/account');
    expect(buyer.page(login).text('h1')).toBe('Hello Ann');
    const orders = await buyer.get<{ sid: string | null }>(`${base}/orders`);
    expect(orders.json).toEqual({ sid: 'S-ann' });
    expect(await buyer.cookies(base)).toEqual({ sid: 'S-ann' });
    // Another buyer has a jar of its own.
    expect((await session().get<{ sid: string | null }>(`${base}/orders`)).json).toEqual({ sid: null });
  });

  it('turns a POST into a GET on 301/302/303 and keeps method and body on 307/308', async () => {
    const seen: string[] = [];
    const base = await startServer(defer, (app) => {
      for (const status of [301, 302, 303, 307, 308] as const) {
        app.post(`/r${status}`, async (_request, reply) => reply.redirect(`/target`, status));
      }
      app.all('/target', async (request) => {
        seen.push(`${request.method} ${JSON.stringify(request.body ?? null)}`);
        return { method: request.method };
      });
    });
    const buyer = session();
    for (const status of [301, 302, 303, 307, 308]) {
      const answer = await buyer.post<{ method: string }>(`${base}/r${status}`, { sku: 'A' });
      expect(answer.json?.method, `status ${status}`).toBe(status >= 307 ? 'POST' : 'GET');
    }
    expect(seen).toEqual(['GET null', 'GET null', 'GET null', 'POST {"sku":"A"}', 'POST {"sku":"A"}']);
  });

  it('returns a redirect as the answer when asked to (redirect: manual)', async () => {
    const base = await startServer(defer, (app) => {
      app.post('/pay', async (_request, reply) => reply.redirect('http://127.0.0.1:1/cashier/T1', 302));
    });
    const answer = await session().post(`${base}/pay`, {}, { redirect: 'manual' });
    expect(answer.status).toBe(302);
    expect(answer.headers.location).toBe('http://127.0.0.1:1/cashier/T1');
    expect(answer.hops).toHaveLength(1);
  });

  it('sends the bearer token to the origin asked, not to another origin a redirect leads to', async () => {
    const gateway = await startServer(defer, (app) => {
      app.get('/landing', async (request) => ({ authorization: request.headers.authorization ?? null }));
    });
    const shop = await startServer(defer, (app) => {
      app.get('/me', async (request) => ({ authorization: request.headers.authorization ?? null }));
      app.get('/away', async (_request, reply) => reply.redirect(`${gateway}/landing`, 302));
    });
    const buyer = session({ bearerToken: 'T0' });
    buyer.bearerToken = 'T1';
    expect((await buyer.get(`${shop}/me`)).json).toEqual({ authorization: 'Bearer T1' });
    expect((await buyer.get(`${shop}/away`)).json).toEqual({ authorization: null });
  });
});

describe('BuyerSession: CSRF across steps', () => {
  /** A shop that issues a fresh token with every page it renders and accepts only the latest. */
  async function csrfShop(): Promise<string> {
    const latest = new Map<string, string>();
    let issued = 0;
    const issue = (sid: string): string => {
      issued += 1;
      const token = `tok-${sid}-${issued}`;
      latest.set(sid, token);
      return token;
    };
    return startServer(defer, (app) => {
      app.get('/cart', async (request, reply) => {
        const sid = cookiesOf(request).sid ?? `s${issued + 1}`;
        const token = issue(sid);
        return reply
          .header('set-cookie', `sid=${sid}; Path=/`)
          .type('text/html')
          .send(html(`<form id="checkout" method="post" action="checkout"><input type="hidden" name="_token" value="${token}"><input name="qty" value="1"><button>Place order</button></form>`, `<meta name="csrf-token" content="${token}">`));
      });
      const accepted = (request: Parameters<typeof cookiesOf>[0], sent: string | undefined): boolean => {
        const sid = cookiesOf(request).sid;
        return sid !== undefined && sent !== undefined && latest.get(sid) === sent;
      };
      app.post('/checkout', async (request, reply) => (accepted(request, fieldsOf(request)._token) ? { ok: true, qty: fieldsOf(request).qty } : reply.code(419).send({ ok: false })));
      app.post('/api/cart/items', async (request, reply) => {
        const header = request.headers['x-csrf-token'];
        return accepted(request, typeof header === 'string' ? header : undefined) ? { ok: true } : reply.code(419).send({ ok: false });
      });
    });
  }

  it('rejects a stale or missing token, and passes with the token the session remembered last', async () => {
    const shop = await csrfShop();
    const buyer = session();
    const first = await buyer.get(`${shop}/cart`);
    const staleForm = buyer.page(first).findForm('#checkout')!;
    // A second page view rotates the token: the first form's token is stale now.
    const second = await buyer.get(`${shop}/cart`);
    expect(buyer.csrfToken(shop)).toEqual({ value: buyer.page(second).csrfToken()!.value, field: '_token' });
    expect(staleForm.get('_token')).not.toBe(buyer.csrfToken(shop)!.value);

    expect((await buyer.submitForm(staleForm)).status).toBe(419);
    // The stale attempt did not rotate the token; the remembered one is still the latest.
    staleForm.set('qty', '2');
    const passed = await buyer.submitForm(staleForm, { csrf: 'field' });
    expect(passed.status).toBe(200);
    expect(passed.json).toEqual({ ok: true, qty: '2' });

    await buyer.get(`${shop}/cart`);
    expect((await buyer.submitForm({ url: `${shop}/checkout`, fields: { qty: '3' } })).status).toBe(419);
    expect((await buyer.submitForm({ url: `${shop}/checkout`, fields: { qty: '3' } }, { csrf: 'field' })).json).toEqual({ ok: true, qty: '3' });
  });

  it('sends the remembered token in the X-CSRF-Token header of a JSON call when asked', async () => {
    const shop = await csrfShop();
    const buyer = session();
    await buyer.get(`${shop}/cart`);
    expect((await buyer.post(`${shop}/api/cart/items`, { sku: 'A' })).status).toBe(419);
    expect((await buyer.post(`${shop}/api/cart/items`, { sku: 'A' }, { csrfHeader: true })).json).toEqual({ ok: true });
    const form = await buyer.submitForm({ url: `${shop}/api/cart/items`, fields: { sku: 'A' } }, { csrf: 'header' });
    expect(form.json).toEqual({ ok: true });
  });
});

describe('BuyerSession: one client address per buyer', () => {
  it('sends each buyer its own X-Forwarded-For and X-Real-IP, so a shop throttling per IP tells them apart', async () => {
    const perAddress = new Map<string, number>();
    const shop = await startServer(defer, (app) => {
      app.get('/order', async (request, reply) => {
        const forwarded = String(request.headers['x-forwarded-for']);
        const count = (perAddress.get(forwarded) ?? 0) + 1;
        perAddress.set(forwarded, count);
        if (count > 2) return reply.code(429).send({ throttled: forwarded });
        return { forwarded, realIp: request.headers['x-real-ip'], userAgent: request.headers['user-agent'], language: request.headers['accept-language'] };
      });
    });
    const ann = session({ clientAddress: '203.0.113.7' });
    const bob = session({ clientAddress: '2001:db8::5', userAgent: 'Bob/1.0', acceptLanguage: 'zh-CN' });
    const annFirst = await ann.get(`${shop}/order`);
    expect(annFirst.json).toMatchObject({ forwarded: '203.0.113.7', realIp: '203.0.113.7', language: 'en-US,en;q=0.9' });
    expect(String((annFirst.json as { userAgent: string }).userAgent)).toMatch(/^Mozilla\/5\.0 .* Ordeal$/);
    await ann.get(`${shop}/order`);
    expect((await ann.get(`${shop}/order`)).status).toBe(429);
    const bobFirst = await bob.get(`${shop}/order`);
    expect(bobFirst.status).toBe(200);
    expect(bobFirst.json).toMatchObject({ forwarded: '2001:db8::5', realIp: '2001:db8::5', userAgent: 'Bob/1.0', language: 'zh-CN' });
  });

  it('refuses a client address that is not an IP address, and limits that are not limits', () => {
    expect(() => new BuyerSession({ clientAddress: 'buyer-7' })).toThrow(expect.objectContaining({ code: 'ORDEAL_ERR_TARGET_ADAPTER' }));
    expect(() => new BuyerSession({ maxBytes: 0 })).toThrow(expect.objectContaining({ code: 'ORDEAL_ERR_TARGET_ADAPTER', message: 'BuyerSession: maxBytes must be an integer of at least 1, not 0' }));
    expect(() => new BuyerSession({ timeoutMs: Number.NaN })).toThrow(expect.objectContaining({ code: 'ORDEAL_ERR_TARGET_ADAPTER' }));
  });
});

describe('BuyerSession: failures are answers', () => {
  it('answers an error when the server closes the socket, and keeps working afterwards', async () => {
    const shop = await startServer(defer, (app) => {
      app.get('/reset', async (request) => {
        request.raw.socket.destroy();
      });
      app.get('/ok', async () => ({ ok: true }));
    });
    const buyer = session();
    const reset = await buyer.get(`${shop}/reset`);
    expect(reset.status).toBeUndefined();
    expect(reset.error).toMatch(/UND_ERR_SOCKET|other side closed|ECONNRESET/);
    expect(reset.hops).toEqual([expect.objectContaining({ method: 'GET', error: reset.error })]);
    expect((await buyer.get(`${shop}/ok`)).json).toEqual({ ok: true });
  });

  it('answers an error for a body over the limit, and drops the connection before the server is done', async () => {
    let closedEarly: Promise<boolean> = Promise.resolve(false);
    const shop = await startServer(defer, (app) => {
      app.get('/declared', async (_request, reply) => reply.header('content-length', String(10 * 1024 * 1024)).send(Buffer.alloc(10 * 1024 * 1024, 120)));
      app.get('/stream', (request, reply) => {
        const socket = request.raw.socket;
        const chunk = Buffer.alloc(16 * 1024, 121);
        let written = 0;
        closedEarly = new Promise<boolean>((resolve) => {
          socket.once('close', () => resolve(written < 64 * 1024 * 1024));
        });
        reply.hijack();
        reply.raw.writeHead(200, { 'content-type': 'text/plain' });
        const pump = (): void => {
          // Bounded: 64 MiB at most; the client should hang up long before.
          while (written < 64 * 1024 * 1024 && !socket.destroyed) {
            written += chunk.length;
            if (!reply.raw.write(chunk)) {
              reply.raw.once('drain', pump);
              return;
            }
          }
          reply.raw.end();
        };
        pump();
      });
    });
    const buyer = session({ maxBytes: 256 * 1024 });
    const declared = await buyer.get(`${shop}/declared`);
    expect(declared.status).toBe(200);
    expect(declared.error).toMatch(/^too large: content-length 10485760 exceeds the limit of 262144 bytes/);
    const streamed = await buyer.get(`${shop}/stream`);
    expect(streamed.error).toMatch(/^too large: the body exceeds the limit of 262144 bytes/);
    expect(await closedEarly).toBe(true);
  });

  it('stops a redirect loop after maxRedirects and says so', async () => {
    const shop = await startServer(defer, (app) => {
      app.get('/loop', async (_request, reply) => reply.redirect('/loop', 302));
    });
    const answer = await session({ maxRedirects: 4 }).get(`${shop}/loop`);
    expect(answer.error).toBe('too many redirects: more than 4');
    expect(answer.status).toBe(302);
    expect(answer.hops).toHaveLength(5);
  });

  it('answers a timeout when no answer comes in time, and a refused connection as an error', async () => {
    const silent = createServer();
    const sockets: Socket[] = [];
    silent.on('connection', (socket) => sockets.push(socket));
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    defer(async () => {
      for (const socket of sockets) socket.destroy();
      silent.close();
      await once(silent, 'close');
    });
    const port = (silent.address() as { port: number }).port;
    const slow = await session({ timeoutMs: 300 }).get(`http://127.0.0.1:${port}/`);
    expect(slow.error).toBe('timeout: no complete answer within 300 ms');
    expect(slow.latencyMs).toBeGreaterThanOrEqual(250);

    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const freePort = (closed.address() as { port: number }).port;
    closed.close();
    await once(closed, 'close');
    const refused = await session().get(`http://127.0.0.1:${freePort}/`);
    expect(refused.status).toBeUndefined();
    expect(refused.error).toMatch(/ECONNREFUSED/);
  });

  it('refuses a URL that is not loopback with an OrdealError, and a redirect off loopback as an answer', async () => {
    const buyer = session();
    await expect(buyer.get('http://example.com/')).rejects.toMatchObject({ code: 'ORDEAL_ERR_UNSAFE_TARGET' });
    await expect(buyer.post('http://10.0.0.1/pay', {})).rejects.toMatchObject({ code: 'ORDEAL_ERR_UNSAFE_TARGET' });
    const shop = await startServer(defer, (app) => {
      app.get('/pay', async (_request, reply) => reply.redirect('https://openapi.alipay.com/gateway.do?x=1', 302));
    });
    const answer = await buyer.get(`${shop}/pay`);
    expect(answer.status).toBe(302);
    expect(answer.error).toBe('refused: redirect to https://openapi.alipay.com/gateway.do?x=1, which is not loopback');
  });

  it('decodes a body in the charset its Content-Type names, and parses JSON whatever the type says', async () => {
    const shop = await startServer(defer, (app) => {
      // "订单" in GBK, as older Chinese PHP shops still send.
      app.get('/gbk', async (_request, reply) => reply.type('text/html; charset=GBK').send(Buffer.from([0xb6, 0xa9, 0xb5, 0xa5])));
      app.get('/php-json', async (_request, reply) => reply.type('text/html').send('{"code":1,"msg":"ok"}'));
    });
    const buyer = session();
    expect((await buyer.get(`${shop}/gbk`)).text).toBe('订单');
    expect((await buyer.get(`${shop}/php-json`)).json).toEqual({ code: 1, msg: 'ok' });
  });
});
