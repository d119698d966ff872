/**
 * docs/images/session-handshake.svg: the session protocol, version 1, as a sequence diagram.
 * The steps are numbered as in the protocol's specification (docs/sessions.md, and the
 * comment at the top of lib/session/protocol.ts); the server's checks are those of
 * lib/session/folder.ts, the order of its opens that of lib/session/session.ts.
 * @module
 */
import { COLORS, Drawing, type Paint } from './svg.js';

const CLIENT = 250;
const SERVER = 680;

export function sessionHandshake(): string {
  const d = new Drawing(1060, 900, 'A session handshake: the client makes its folder and FIFOs, asks through DIR/connect, opens in then out; the server checks, answers ok or refused');

  d.text(24, 34, 'A session, from handshake to end', { size: 19, bold: true });
  d.text(24, 56, '`PipeSessionServer` in the sessions folder `DIR`; protocol version 1. Numbers are the steps of the specification.', { fill: COLORS.muted });

  d.box(CLIENT - 150, 76, 300, 58, COLORS.client, 'client', { small: 'any user that `permissions` lets write `DIR/connect`', center: true });
  d.box(SERVER - 150, 76, 300, 58, COLORS.node, 'server', { small: 'owns `DIR` and the FIFO `DIR/connect`', center: true });
  d.lifeline(CLIENT, 134, 872);
  d.lifeline(SERVER, 134, 872);

  const step = (y: number, n: number): void => {
    d.raw(`<circle cx="36" cy="${y}" r="12" fill="#ffffff" stroke="${COLORS.muted}" stroke-width="1.3"/>`);
    d.text(36, y + 4.5, String(n), { anchor: 'middle', bold: true, size: 12.5, fill: COLORS.muted });
  };
  const note = (x: number, y: number, w: number, paint: Paint, lines: readonly string[]): void => {
    d.rect(x, y, w, 14 + lines.length * 17, paint, { radius: 5 });
    d.lines(x + 10, y + 20, lines, { size: 12.5 });
  };

  // 1. The client's own folder and FIFOs.
  step(172, 1);
  note(CLIENT - 185, 152, 370, COLORS.client, ['`d=$(mktemp -d DIR/s.XXXXXX)`: a folder only it can write', '`mkfifo $d/in $d/out`: two FIFOs it owns']);

  // 2. The request.
  step(226, 2);
  d.message(CLIENT, SERVER, 226, 'pipe-io-session 1 NAME', { labelMono: true });
  d.text((CLIENT + SERVER) / 2, 244, 'into `DIR/connect`, one `write()`', { anchor: 'middle', size: 12, fill: COLORS.muted });

  // The server checks before it opens anything.
  note(SERVER - 210, 262, 420, COLORS.node, [
    'opens `DIR/NAME` with `O_PATH | O_NOFOLLOW | O_DIRECTORY`',
    '(a symbolic link, `..` or a path: refused, nothing opened)',
    'the folder: writable by its owner only',
    '`in`, `out`: FIFOs of that owner, reached through the pin',
    '`peer` = the folder\'s uid and gid (`fstat`)',
    'opens `in` for reading',
  ]);

  // 3. The client opens in, then out.
  step(400, 3);
  d.message(CLIENT, SERVER, 400, 'open `in` for writing');
  d.text((CLIENT + SERVER) / 2, 418, 'returns once the server reads it', { anchor: 'middle', size: 12, fill: COLORS.muted });
  d.message(CLIENT, SERVER, 456, 'open `out` for reading');
  note(SERVER - 210, 474, 420, COLORS.node, ['sees the reader (its non-blocking open stops failing', 'with ENXIO) and opens `out` for writing']);

  // 4. The answer.
  step(546, 4);
  d.message(SERVER, CLIENT, 546, 'ok 1 ID', { labelMono: true });
  d.text((CLIENT + SERVER) / 2, 564, 'or `refused REASON`, then end of stream', { anchor: 'middle', size: 12, fill: COLORS.muted });

  // How long the client has, from its request, to open both pipes.
  d.arrow([[SERVER + 244, 226], [SERVER + 244, 456]], { both: true, color: COLORS.muted, width: 1.2 });
  d.lines(SERVER + 252, 336, ['`handshakeTimeout`', '(5000 ms)'], { size: 11.5, fill: COLORS.muted }, 15);

  // 5. Lines both ways, and the end.
  step(612, 5);
  d.message(CLIENT, SERVER, 612, 'hello', { labelMono: true });
  d.message(SERVER, CLIENT, 652, 'you said: hello', { labelMono: true });
  d.text((CLIENT + SERVER) / 2, 676, 'lines both ways, any number of them', { anchor: 'middle', size: 12, fill: COLORS.muted });
  d.message(CLIENT, SERVER, 726, 'close `in` (or exit)');
  d.text((CLIENT + SERVER) / 2, 744, 'the server reads end of stream: an unfinished line comes alone', { anchor: 'middle', size: 12, fill: COLORS.muted });
  note(SERVER - 210, 762, 420, COLORS.node, ['closes `out`; removes `in`, `out` and `DIR/NAME`,', 'only if they still are what it served']);
  d.message(SERVER, CLIENT, 846, 'end of stream on `out`', { dashed: true });
  d.text((CLIENT + SERVER) / 2, 864, 'also how a client learns that the server ended the session', { anchor: 'middle', size: 12, fill: COLORS.muted });

  return d.render();
}
