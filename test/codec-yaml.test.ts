/**
 * The 'yaml' codec: one YAML flow value per line, read back as the same value.
 */
import { expect } from 'chai';
import { resolveCodec, yamlCodec } from '../lib/index.js';

describe("codec 'yaml': one YAML flow value per line", () => {
  it('writes flow style on one line and reads it back, line breaks in strings included', () => {
    const values: unknown[] = [
      { name: 'ada', tags: ['a', 'b c'], nested: { n: 1, none: null, yes: true } },
      'multi\nline\r\ntext',
      { text: 'a: b', empty: '', quote: '"', hash: '# not a comment' },
      [1, 2.5, -3, 'four'],
      42,
      null,
      {},
      [],
    ];
    for (const value of values) {
      const line = yamlCodec.encode(value);
      expect(line, JSON.stringify(value)).to.not.match(/[\n\r]/);
      expect(yamlCodec.decode(line), line).to.deep.equal(value);
    }
    expect(yamlCodec.encode({ a: 1, b: ['x', 'y'] })).to.equal('{ a: 1, b: [ x, y ] }');
  });

  it('reads JSON lines (JSON is YAML flow), so JSON and YAML peers mix', () => {
    expect(yamlCodec.decode('{"a": [1, "two"], "b": null}')).to.deep.equal({ a: [1, 'two'], b: null });
  });

  it('throws on what it cannot read or write, for the caller to report and skip', () => {
    expect(() => yamlCodec.decode('{ a: 1, a: 2 }')).to.throw(/unique/);
    expect(() => yamlCodec.decode('{ unclosed')).to.throw();
    expect(() => yamlCodec.decode('!!js/function "x"')).to.throw();
    expect(() => yamlCodec.encode(undefined)).to.throw(TypeError);
    expect(resolveCodec('yaml')).to.equal(yamlCodec);
  });
});
