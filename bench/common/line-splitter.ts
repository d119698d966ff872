/**
 * The straightforward line splitter a Node user would write for the baselines:
 * decode to a string (the socket's setEncoding('utf8')), split on '\n', keep
 * the unfinished tail for the next chunk.
 */
export function lineSplitter(onLine: (line: string) => void): (chunk: string) => void {
  let rest = '';
  return (chunk: string) => {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop() ?? '';
    for (const part of parts) onLine(part);
  };
}
