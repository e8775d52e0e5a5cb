/** An open server-sent event stream: the text so far, and a way to close it. */
export async function openStream(url: string, headers: Record<string, string> = {}) {
  const ctl = new AbortController();
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: ctl.signal });
  const stream = { status: res.status, res, text: '', closed: false, close: () => ctl.abort() };
  if (res.status !== 200) return stream;
  const reader = res.body!.getReader();
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        stream.text += new TextDecoder().decode(value);
      }
    } catch {}
    stream.closed = true;
  })();
  return stream;
}
