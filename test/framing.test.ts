import { expect } from 'chai';
import { ByteLineDecoder, LineDecoder, assertMessage, joinLines } from '../lib/framing.js';

function decoder(max = 1024): { d: LineDecoder; lines: string[]; oversize: () => number } {
  const lines: string[] = [];
  let oversize = 0;
  const d = new LineDecoder(max, { line: (l) => lines.push(l), oversize: () => oversize++ });
  return { d, lines, oversize: () => oversize };
}

describe('framing', () => {
  it('splits lines, keeps empty ones, and holds an unfinished line until its newline', () => {
    const { d, lines } = decoder();
    d.push(Buffer.from('a\n\nb'));
    expect(lines).to.deep.equal(['a', '']);
    d.push(Buffer.from('c\nd'));
    expect(lines).to.deep.equal(['a', '', 'bc']);
    d.end();
    expect(lines).to.deep.equal(['a', '', 'bc', 'd']);
  });

  it('never cuts a UTF-8 character split across chunks', () => {
    const { d, lines } = decoder();
    const bytes = Buffer.from('é漢字😀\n');
    for (let i = 0; i < bytes.length; i++) d.push(bytes.subarray(i, i + 1));
    expect(lines).to.deep.equal(['é漢字😀']);
  });

  it('turns invalid UTF-8 into U+FFFD and keeps NUL and CR', () => {
    const { d, lines } = decoder();
    d.push(Buffer.from([0x61, 0xff, 0x00, 0x0d, 0x0a]));
    expect(lines).to.deep.equal(['a\ufffd\u0000\r']);
  });

  it('drops a line longer than the limit, reports it once, and carries on after its newline', () => {
    const { d, lines, oversize } = decoder(10);
    d.push(Buffer.from('short\n' + 'x'.repeat(8)));
    d.push(Buffer.from('x'.repeat(100)));
    d.push(Buffer.from('x'.repeat(100)));
    expect(d.pendingBytes).to.equal(0);
    d.push(Buffer.from('xx\nafter\n' + 'y'.repeat(30) + '\nlast\n'));
    expect(lines).to.deep.equal(['short', 'after', 'last']);
    expect(oversize()).to.equal(2);
  });

  it('accepts a line of exactly the limit', () => {
    const { d, lines, oversize } = decoder(4);
    d.push(Buffer.from('ab'));
    d.push(Buffer.from('cd\nefgh\n'));
    expect(lines).to.deep.equal(['abcd', 'efgh']);
    expect(oversize()).to.equal(0);
  });

  it('with a lines hook, hands each chunk\'s whole lines over in one array, in the same order as line by line', () => {
    // Random chunkings of random text (ASCII, UTF-8 split anywhere, too-long lines, single
    // lines): the batched decoder's calls, flattened, must equal the plain decoder's lines.
    let seed = 14;
    const random = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
    const pieces = ['a', 'bc', '\n', 'é', '漢', 'x'.repeat(40), '\n\n', '😀', 'line\n'];
    let mostInOneCall = 0;
    for (let round = 0; round < 200; round++) {
      let text = '';
      while (text.length < 400) text += pieces[random(pieces.length)];
      const bytes = Buffer.from(text);
      const plain: string[] = [];
      const batched: string[] = [];
      const calls: number[] = [];
      let plainOversize = 0;
      let batchedOversize = 0;
      const a = new LineDecoder(30, { line: (l) => plain.push(l), oversize: () => plainOversize++ });
      const b = new LineDecoder(30, {
        line: (l) => batched.push(l),
        lines: (ls) => {
          calls.push(ls.length);
          batched.push(...ls);
        },
        oversize: () => batchedOversize++,
      });
      for (let at = 0; at < bytes.length; ) {
        const size = 1 + random(round % 2 === 0 ? 8 : 120);
        a.push(bytes.subarray(at, at + size));
        b.push(bytes.subarray(at, at + size));
        at += size;
      }
      a.end();
      b.end();
      expect(batched, `round ${round}`).to.deep.equal(plain);
      expect(batchedOversize).to.equal(plainOversize);
      mostInOneCall = Math.max(mostInOneCall, ...calls);
    }
    expect(mostInOneCall, 'some chunk held several lines').to.be.greaterThan(3);
  });

  it('hands a chunk of one whole line to line(), and bytes lines in one array as views', () => {
    const lines: string[] = [];
    const d = new LineDecoder(5, { line: (l) => lines.push(l), lines: () => expect.fail('one line needs no array'), oversize: () => lines.push('(oversize)') });
    d.push(Buffer.from('hello\n'));
    d.push(Buffer.from('toolong\n'));
    expect(lines).to.deep.equal(['hello', '(oversize)']);
    const got: Buffer[][] = [];
    const chunk = Buffer.from('ab\ncd\n');
    const bd = new ByteLineDecoder(10, { line: () => expect.fail('whole lines go in the array'), lines: (ls) => got.push(ls), oversize: () => {} });
    bd.push(chunk);
    expect(got.map((ls) => ls.map((l) => l.toString()))).to.deep.equal([['ab', 'cd']]);
    expect(got[0]![0]!.buffer).to.equal(chunk.buffer);
  });

  it('encodes lines with a newline after each, and refuses messages that are not one line', () => {
    expect(joinLines(['a', '', 'é'])).to.equal('a\n\né\n');
    expect(joinLines(['one'])).to.equal('one\n');
    expect(() => assertMessage('a\nb')).to.throw(TypeError, /newline/);
    expect(() => assertMessage(42)).to.throw(TypeError, /string/);
    expect(() => assertMessage('tab\tand\rcr')).to.not.throw();
  });
});
