/**
 * The documentation's diagrams: each SVG file under docs/images and the function that draws it.
 * `make.ts` writes them; `test/docs-diagrams.test.ts` checks that the committed files are what
 * these functions draw now.
 * @module
 */
import { messagePath } from './message-path.js';
import { sessionHandshake } from './session-handshake.js';

/** Each diagram: its path from the repository's root, and what draws it. */
export const DIAGRAMS: readonly { readonly file: string; readonly draw: () => string }[] = [
  { file: 'docs/images/message-path.svg', draw: messagePath },
  { file: 'docs/images/session-handshake.svg', draw: sessionHandshake },
];
