import { expect } from 'chai';
import { LineDecoder, assertMessage, joinLines } from '../lib/framing.js';

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

  it('encodes lines with a newline after each, and refuses messages that are not one line', () => {
    expect(joinLines(['a', '', 'é'])).to.equal('a\n\né\n');
    expect(joinLines(['one'])).to.equal('one\n');
    expect(() => assertMessage('a\nb')).to.throw(TypeError, /newline/);
    expect(() => assertMessage(42)).to.throw(TypeError, /string/);
    expect(() => assertMessage('tab\tand\rcr')).to.not.throw();
  });
});
