/**
 * docs/images/message-path.svg: how one line travels from a client through a
 * `PipeIOServer` and back. The names are those of lib/: fifo.ts (the anchor), reader.ts and
 * framing.ts (reading and splitting), inbox.ts and dispatch.ts (the handler), writer.ts.
 * @module
 */
import { COLORS, Drawing } from './svg.js';

export function messagePath(): string {
  const d = new Drawing(1040, 700, 'How a message travels: client, in FIFO, reader, handler, writer, out FIFO, client');

  d.text(24, 34, 'How a message travels', { size: 19, bold: true });
  d.text(24, 56, 'One `PipeIOServer`; the boxes in the Node process are the parts of `lib/` that do each step.', { fill: COLORS.muted });

  // The kernel's part: a band behind the two FIFOs.
  d.rect(206, 74, 178, 610, { fill: COLORS.band, stroke: COLORS.band }, { radius: 6 });
  d.text(295, 96, 'kernel', { anchor: 'middle', italic: true, fill: COLORS.muted });

  // The client: one process that writes one pipe and reads the other.
  d.box(20, 112, 160, 540, COLORS.client, 'client');
  d.lines(32, 152, ['any process: bash,', 'Python, C, Node…'], { size: 11.5, fill: COLORS.muted }, 15);
  d.lines(32, 226, ['writes each line', 'with one `write()`,', 'ending in `\\n`'], { size: 12.5 });
  d.lines(32, 586, ['reads line by line,', 'keeps the out', 'pipe open'], { size: 12.5 });

  // The two FIFOs.
  d.pipe(220, 154, 150, 86, COLORS.kernel, 'in FIFO', ['`send`', '64 KiB buffer']);
  d.pipe(220, 512, 150, 86, COLORS.kernel, 'out FIFO', ['`recv`', '64 KiB buffer']);

  // The Node process.
  d.rect(404, 74, 620, 610, { fill: '#ffffff', stroke: COLORS.node.stroke }, { radius: 10, dashed: true });
  d.text(420, 98, 'Node process: `PipeIOServer` (`lib/server.ts`)', { bold: true, size: 13.5, fill: COLORS.node.stroke });

  d.box(420, 112, 280, 170, COLORS.node, 'reader', {
    small: 'lib/reader.ts, lib/framing.ts',
    lines: ['`net.Socket` on a non-blocking fd:', 'libuv reads, no threadpool thread', 'splits at `\\n` (`LineDecoder`)', 'end of stream: the last line alone,', 'then a fresh fd on the same pipe'],
  });
  d.box(744, 112, 264, 170, COLORS.node, 'handler', {
    small: 'lib/inbox.ts, lib/dispatch.ts',
    lines: ['the codec decodes each line', '`handleMessage(m)`; by default', 'it emits `\'message\'`', 'or `handleMessages(batch)`', '`for await` loops see every line', 'at most `concurrency` pending'],
  });
  d.box(744, 470, 264, 170, COLORS.node, 'writer', {
    small: 'lib/writer.ts',
    lines: ['`send(m)`: the first line of a turn', 'is written at once; the rest of', 'the turn joined into one `write()`', 'pipe full: queued, in order', '`needsDrain` past `highWaterMark`'],
  });
  d.box(420, 344, 280, 150, COLORS.anchor, 'anchor: one per FIFO', {
    small: 'lib/fifo.ts',
    lines: ['`O_RDONLY | O_NONBLOCK`, never read', '`flock`: one server per pipe', 'always a reader: no ENXIO, no EPIPE', 'reaches a deleted pipe (`/proc`)', 'deleted? made again (inotify)'],
  });

  // The path of a message.
  const label = (x: number, y: number, text: string): void => d.text(x, y, text, { anchor: 'middle', size: 12.5 });
  d.arrow([[180, 197], [220, 197]]);
  d.arrow([[370, 180], [420, 180]]);
  d.arrow([[700, 170], [744, 170]]);
  d.arrow([[850, 282], [850, 470]]);
  d.text(860, 382, '`send(reply)`', { size: 12.5 });
  d.arrow([[744, 555], [370, 555]]);
  label(557, 546, '`write(2)`');
  d.arrow([[220, 555], [180, 555]]);

  // Backpressure, against the flow.
  const back = { dashed: true, color: COLORS.muted };
  d.arrow([[772, 282], [772, 300], [672, 300], [672, 282]], back);
  d.lines(722, 318, ['pause reading while', 'handlers or iterators lag'], { size: 11.5, fill: COLORS.muted, anchor: 'middle' }, 14);
  d.arrow([[985, 470], [985, 282]], back);
  d.text(977, 418, '`\'drain\'`', { size: 11.5, fill: COLORS.muted, anchor: 'end' });

  // The anchors hold both FIFOs.
  const held = { plain: true, dashed: true, color: COLORS.anchor.stroke };
  d.arrow([[420, 372], [350, 240]], held);
  d.arrow([[420, 470], [350, 512]], held);

  d.text(420, 670, 'Dashed grey: backpressure, against the flow. Dashed purple: descriptors held, never read.', { size: 11.5, fill: COLORS.muted });
  return d.render();
}
