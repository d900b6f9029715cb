/**
 * A card shop and a payment gateway on two servers, for following the hand-over to the cashier:
 * the shop answers "pay" with pages that move the browser on by themselves (an auto-submitting
 * form, an onload submit, a meta refresh, a scripted location), the gateway takes the form, sets
 * its own cookie and redirects to its cashier, which waits for the buyer.
 */
import type { Defer } from './cleanups.js';
import { cookiesOf, fieldsOf, html, startServer } from './kit-server.js';

export interface PaymentWorld {
  shop: string;
  gateway: string;
  /** What the gateway's submit.php received, in order. */
  submitted: Array<Record<string, string>>;
}

/** The cashier of a trade: a form the buyer fills in, a self-refresh that polls, a script that submits only on click. */
function cashierPage(trade: string): string {
  return html(
    `<h1>Pay trade ${trade}</h1>
     <form id="cashier" method="post" action="/cashier/${trade}/pay"><input name="payerId"><input type="hidden" name="method" value="alipay"><button id="go">Pay</button></form>
     <script>document.getElementById('go').onclick = function () { this.form.submit(); };</script>`,
    '<meta http-equiv="refresh" content="30">',
  );
}

function autoSubmitForm(gateway: string, orderNo: string): string {
  return `<form name="alipaysubmit" action="${gateway}/submit.php" method="post">
      <input type="hidden" name="pid" value="1001"><input type="hidden" name="out_trade_no" value="${orderNo}">
      <input type="hidden" name="money" value="12.00"><input type="hidden" name="sign" value="s-${orderNo}">
      <input type="submit" name="go" value="Continue" style="display:none"></form>`;
}

export async function startPaymentWorld(defer: Defer): Promise<PaymentWorld> {
  const submitted: Array<Record<string, string>> = [];
  const gateway = await startServer(defer, (app) => {
    app.post('/submit.php', async (request, reply) => {
      const fields = fieldsOf(request);
      submitted.push(fields);
      if (fields.sign !== `s-${fields.out_trade_no}`) return reply.code(400).type('text/html').send(html('<p>bad sign</p>'));
      return reply.header('set-cookie', 'gw=G-1; Path=/; HttpOnly').redirect(`/cashier/T-${fields.out_trade_no}`, 302);
    });
    app.get('/pay', async (request, reply) => {
      const trade = (request.query as { trade?: string }).trade ?? 'none';
      return reply.header('set-cookie', 'gw=G-1; Path=/; HttpOnly').redirect(`/cashier/T-${trade}`, 302);
    });
    // A gateway that hands over once more (as Alipay's gateway.do does) before its cashier.
    app.post('/relay', async (request, reply) => {
      const fields = fieldsOf(request);
      return reply.type('text/html').send(html(autoSubmitForm('', fields.out_trade_no ?? 'none'), '').replace('<body>', '<body onload="document.forms[0].submit()">'));
    });
    app.get('/cashier/:trade', async (request, reply) => {
      const { trade } = request.params as { trade: string };
      if (cookiesOf(request).gw !== 'G-1') return reply.code(403).type('text/html').send(html('<p>no gateway session</p>'));
      return reply.type('text/html').send(cashierPage(trade));
    });
    app.get('/favicon.ico', async (_request, reply) => reply.code(204).send());
  });
  const shop = await startServer(defer, (app) => {
    app.get('/order/:no/pay-form', async (request, reply) => {
      const { no } = request.params as { no: string };
      return reply.type('text/html').send(html(`<p>Redirecting to the payment page…</p>${autoSubmitForm(gateway, no)}<script>document.forms['alipaysubmit'].submit();</script>`));
    });
    app.get('/order/:no/pay-onload', async (request, reply) => {
      const { no } = request.params as { no: string };
      const page = html(`<form id="search" action="/search"><input name="q"></form>${autoSubmitForm(gateway, no)}`).replace('<body>', '<body onload="document.alipaysubmit.submit()">');
      return reply.type('text/html').send(page);
    });
    app.get('/order/:no/pay-refresh', async (request, reply) => {
      const { no } = request.params as { no: string };
      return reply.type('text/html').send(html('<p>Redirecting…</p>', `<meta http-equiv="refresh" content="0; url=${gateway}/pay?trade=${no}">`));
    });
    app.get('/order/:no/pay-script', async (request, reply) => {
      const { no } = request.params as { no: string };
      return reply.type('text/html').send(html(`<script>window.location.href = "${gateway}/pay?trade=${no}";</script>`));
    });
    app.get('/order/:no/pay-relay', async (request, reply) => {
      const { no } = request.params as { no: string };
      return reply.type('text/html').send(html(`${autoSubmitForm(gateway, no).replace('/submit.php', '/relay')}<script>document.forms[0].submit()</script>`));
    });
    app.all('/loop', async (_request, reply) => reply.type('text/html').send(html('<form method="post" action="/loop"><input type="hidden" name="n" value="1"></form><script>document.forms[0].submit()</script>')));
    app.get('/offsite', async (_request, reply) =>
      reply.type('text/html').send(html('<form method="post" action="https://openapi.alipay.com/gateway.do"><input type="hidden" name="biz_content" value="{}"></form><script>document.forms[0].submit()</script>')),
    );
    app.get('/favicon.ico', async (_request, reply) => reply.code(204).send());
  });
  return { shop, gateway, submitted };
}
