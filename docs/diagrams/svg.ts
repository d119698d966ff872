/**
 * The few SVG primitives the documentation's diagrams are drawn with: boxes, arrows, lifelines
 * and text. Plain SVG 1.1 only (no scripts, no foreignObject, no web fonts), so that GitHub
 * shows it inline through an `<img>` and the typedoc site shows it as it is. A white background
 * keeps it readable in GitHub's dark mode, where a transparent picture would put dark text on
 * a dark page.
 *
 * Output is deterministic: every coordinate is rounded and nothing depends on the clock or the
 * machine, so `test/docs-diagrams.test.ts` can compare the committed files byte for byte.
 * @module
 */

/** System font stacks: whatever the reader's machine has, no download. */
export const SANS = "-apple-system, BlinkMacSystemFont, 'Segoe UI', Helvetica, Arial, sans-serif";
export const MONO = "ui-monospace, SFMono-Regular, Menlo, Consolas, 'Liberation Mono', 'DejaVu Sans Mono', monospace";

/** The palette: one light fill and one darker stroke per kind of thing. */
export const COLORS = {
  ink: '#1f2328',
  muted: '#57606a',
  line: '#424a53',
  client: { fill: '#ddf4ff', stroke: '#0969da' },
  kernel: { fill: '#fff8c5', stroke: '#9a6700' },
  node: { fill: '#dafbe1', stroke: '#1a7f37' },
  anchor: { fill: '#fbefff', stroke: '#8250df' },
  note: { fill: '#f6f8fa', stroke: '#8c959f' },
  band: '#f6f8fa',
} as const;

export interface Paint {
  readonly fill: string;
  readonly stroke: string;
}

export interface TextStyle {
  size?: number;
  bold?: boolean;
  italic?: boolean;
  /** The whole text in the monospace font; otherwise only the parts written `like this`. */
  mono?: boolean;
  anchor?: 'start' | 'middle' | 'end';
  fill?: string;
}

export interface ArrowStyle {
  dashed?: boolean;
  color?: string;
  /** Heads at both ends. */
  both?: boolean;
  /** No head at all: a plain connector. */
  plain?: boolean;
  width?: number;
}

export type Point = readonly [number, number];

/** Coordinates in tenths at most: the same picture on every machine. */
function num(value: number): string {
  return String(Math.round(value * 10) / 10);
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * A line of text as tspans: parts between backticks are set in the monospace font, like
 * Markdown's inline code, so a label can name `send()` among plain words.
 */
function spans(text: string, mono: boolean): string {
  if (mono) return escape(text);
  const parts = text.split('`');
  if (parts.length % 2 === 0) throw new Error(`Unbalanced backticks in a diagram label: ${text}`);
  return parts
    .map((part, i) => (part === '' ? '' : i % 2 === 1 ? `<tspan font-family="${escape(MONO)}">${escape(part)}</tspan>` : escape(part)))
    .join('');
}

/** One picture being drawn; {@link render} gives the file's text. */
export class Drawing {
  readonly #parts: string[] = [];
  readonly #markers = new Set<string>();

  /**
   * @param width - in pixels
   * @param height - in pixels
   * @param title - what the picture shows, for screen readers and as the tooltip
   */
  constructor(
    readonly width: number,
    readonly height: number,
    readonly title: string,
  ) {}

  /** Raw SVG, for what the primitives below do not cover. */
  raw(svg: string): void {
    this.#parts.push(svg);
  }

  /** Text; `y` is the baseline. */
  text(x: number, y: number, text: string, style: TextStyle = {}): void {
    const attrs = [`x="${num(x)}"`, `y="${num(y)}"`];
    if (style.size !== undefined && style.size !== 13) attrs.push(`font-size="${num(style.size)}"`);
    if (style.bold) attrs.push('font-weight="bold"');
    if (style.italic) attrs.push('font-style="italic"');
    if (style.mono) attrs.push(`font-family="${escape(MONO)}"`);
    if (style.anchor !== undefined && style.anchor !== 'start') attrs.push(`text-anchor="${style.anchor}"`);
    if (style.fill !== undefined && style.fill !== COLORS.ink) attrs.push(`fill="${style.fill}"`);
    this.#parts.push(`<text ${attrs.join(' ')}>${spans(text, style.mono === true)}</text>`);
  }

  /** Several lines of text, `lineHeight` apart, the first baseline at `y`. */
  lines(x: number, y: number, lines: readonly string[], style: TextStyle = {}, lineHeight = 17): void {
    lines.forEach((line, i) => this.text(x, y + i * lineHeight, line, style));
  }

  rect(x: number, y: number, w: number, h: number, paint: Paint, options: { radius?: number; dashed?: boolean; width?: number } = {}): void {
    const attrs = [`x="${num(x)}"`, `y="${num(y)}"`, `width="${num(w)}"`, `height="${num(h)}"`];
    if (options.radius) attrs.push(`rx="${num(options.radius)}"`);
    attrs.push(`fill="${paint.fill}"`, `stroke="${paint.stroke}"`, `stroke-width="${num(options.width ?? 1.5)}"`);
    if (options.dashed) attrs.push('stroke-dasharray="6 4"');
    this.#parts.push(`<rect ${attrs.join(' ')}/>`);
  }

  /**
   * A rounded box with a bold title and lines below it; `small` is a second line under the
   * title, in grey (a file name, say).
   */
  box(x: number, y: number, w: number, h: number, paint: Paint, title: string, options: { small?: string; lines?: readonly string[]; center?: boolean } = {}): void {
    this.rect(x, y, w, h, paint, { radius: 8 });
    const center = options.center === true;
    const tx = center ? x + w / 2 : x + 12;
    const anchor = center ? 'middle' : 'start';
    this.text(tx, y + 22, title, { bold: true, size: 14, anchor });
    let next = y + 22;
    if (options.small !== undefined) {
      next += 16;
      this.text(tx, next, options.small, { size: 11.5, fill: COLORS.muted, anchor });
    }
    next += 22;
    for (const line of options.lines ?? []) {
      this.text(tx, next, line, { size: 12.5, anchor });
      next += 17;
    }
  }

  /**
   * A FIFO drawn as a pipe lying on its side: a rectangle with an ellipse at each end, the
   * right one open. `title` and `lines` are centred in it.
   */
  pipe(x: number, y: number, w: number, h: number, paint: Paint, title: string, lines: readonly string[] = []): void {
    const r = 9;
    const cy = y + h / 2;
    this.#parts.push(
      `<path d="M${num(x + r)} ${num(y)} H${num(x + w - r)} A${r} ${num(h / 2)} 0 0 1 ${num(x + w - r)} ${num(y + h)} H${num(x + r)} A${r} ${num(h / 2)} 0 0 1 ${num(x + r)} ${num(y)} Z" fill="${paint.fill}" stroke="${paint.stroke}" stroke-width="1.5"/>`,
      `<ellipse cx="${num(x + w - r)}" cy="${num(cy)}" rx="${r}" ry="${num(h / 2)}" fill="none" stroke="${paint.stroke}" stroke-width="1.5"/>`,
    );
    const mid = x + w / 2 - r / 2;
    const top = cy - ((lines.length + 1) * 16) / 2 + 12;
    this.text(mid, top, title, { bold: true, size: 14, anchor: 'middle' });
    lines.forEach((line, i) => this.text(mid, top + 18 + i * 16, line, { size: 12, anchor: 'middle' }));
  }

  /** The id of the arrowhead in `color`; {@link render} defines one per colour used. */
  #marker(color: string): string {
    this.#markers.add(color);
    return `head-${color.replace('#', '')}`;
  }

  /** A polyline through `points` with an arrowhead at its end (see {@link ArrowStyle}). */
  arrow(points: readonly Point[], style: ArrowStyle = {}): void {
    const color = style.color ?? COLORS.line;
    const d = points.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${num(x)} ${num(y)}`).join(' ');
    const attrs = [`d="${d}"`, 'fill="none"', `stroke="${color}"`, `stroke-width="${num(style.width ?? 1.6)}"`];
    if (style.dashed) attrs.push('stroke-dasharray="5 4"');
    if (!style.plain) {
      const id = this.#marker(color);
      attrs.push(`marker-end="url(#${id})"`);
      if (style.both) attrs.push(`marker-start="url(#${id})"`);
    }
    this.#parts.push(`<path ${attrs.join(' ')}/>`);
  }

  /** A sequence diagram's lifeline: a dashed vertical line. */
  lifeline(x: number, top: number, bottom: number): void {
    this.#parts.push(`<path d="M${num(x)} ${num(top)} V${num(bottom)}" fill="none" stroke="${COLORS.muted}" stroke-width="1.2" stroke-dasharray="4 4"/>`);
  }

  /** A horizontal message between lifelines with its label above the line, centred. */
  message(fromX: number, toX: number, y: number, label: string, style: ArrowStyle & { labelMono?: boolean } = {}): void {
    this.arrow(
      [
        [fromX, y],
        [toX, y],
      ],
      style,
    );
    this.text((fromX + toX) / 2, y - 7, label, { anchor: 'middle', size: 12.5, mono: style.labelMono === true });
  }

  /** The file's text. */
  render(): string {
    const defs = [...this.#markers]
      .sort()
      .map(
        (color) =>
          `<marker id="${this.#marker(color)}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0 0 L10 5 L0 10 z" fill="${color}"/></marker>`,
      );
    return [
      '<?xml version="1.0" encoding="UTF-8"?>',
      `<svg xmlns="http://www.w3.org/2000/svg" width="${this.width}" height="${this.height}" viewBox="0 0 ${this.width} ${this.height}" role="img" aria-labelledby="title">`,
      `<title id="title">${escape(this.title)}</title>`,
      `<defs>${defs.join('')}</defs>`,
      `<rect width="100%" height="100%" fill="#ffffff"/>`,
      `<g font-family="${escape(SANS)}" font-size="13" fill="${COLORS.ink}">`,
      ...this.#parts,
      '</g>',
      '</svg>',
      '',
    ].join('\n');
  }
}
