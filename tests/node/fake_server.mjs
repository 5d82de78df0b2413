// The plumbing the node tests' fake upstreams share: an HTTP server on
// 127.0.0.1 (port 0) that reads each request's JSON body, records it, and
// hands it to the fake's handler.
import http from 'node:http';

// Starts a server calling handler(req, res, body) per request; resolves to
// { port, received, close() }. `received` holds { method, url, headers, body }.
export async function startFakeServer(handler) {
  const received = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (d) => { raw += d; });
    req.on('end', () => {
      const body = raw ? JSON.parse(raw) : null;
      received.push({ method: req.method, url: req.url, headers: req.headers, body });
      handler(req, res, body);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: server.address().port,
    received,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
