/**
 * Which parts of a page's inline script run by themselves as the page loads. A hand-over page
 * submits its form or sets `location` at load; a cashier or order page may hold the same calls in
 * a click handler (`cancelButton.onclick = function () { cancelForm.submit(); }`), which a buyer
 * has to trigger — following those would cancel orders the buyer never cancelled.
 *
 * Not a JavaScript parser: a scan that skips strings and comments, tracks braces, and blanks out
 * every function body that is not handed straight to a load hook (`setTimeout`, `onload =`,
 * `addEventListener('load' | 'DOMContentLoaded', …)`, jQuery's `$(…)` / `.ready(…)`). The
 * patterns below read script text, never markup.
 */

/** A function body starts here: `function name(args) {` or `(args) => {`. */
const FUNCTION_HEAD = /(?:\bfunction\b[\s\w$]*\([^()]*\)|=>)\s*$/;

/** A function handed to a load hook: the hook, then the function's head, right before its `{`. */
const LOAD_HOOK =
  /(?:\bsetTimeout\s*\(|\bonload\s*=|\baddEventListener\s*\(\s*["'](?:load|DOMContentLoaded)["']\s*,|\.ready\s*\(|(?:^|[^\w$.])(?:\$|jQuery)\s*\()\s*(?:async\s+)?(?:function\b[\s\w$]*\([^()]*\)|\([^()]*\)\s*=>|[\w$]+\s*=>)\s*$/;

/** How far back a brace's context is read, characters. */
const CONTEXT = 300;

/** The end of a string literal or comment starting at `start`, or `start` when none starts there. */
function skipLiteral(script: string, start: number): number {
  const char = script[start];
  if (char === '"' || char === "'" || char === '`') {
    let index = start + 1;
    while (index < script.length && script[index] !== char) index += script[index] === '\\' ? 2 : 1;
    return index + 1;
  }
  if (char === '/' && script[start + 1] === '/') {
    const end = script.indexOf('\n', start);
    return end < 0 ? script.length : end;
  }
  if (char === '/' && script[start + 1] === '*') {
    const end = script.indexOf('*/', start + 2);
    return end < 0 ? script.length : end + 2;
  }
  return start;
}

/** The script without its comments and without the bodies of functions that do not run at load. */
export function codeRunOnLoad(script: string): string {
  let kept = '';
  /** One entry per open brace: whether its contents are dropped. */
  const braces: boolean[] = [];
  let dropped = 0;
  let index = 0;
  while (index < script.length) {
    const end = skipLiteral(script, index);
    if (end > index) {
      // Strings are kept (a URL assigned to location is one); comments never run.
      if (dropped === 0 && script[index] !== '/') kept += script.slice(index, end);
      index = end;
      continue;
    }
    const char = script[index]!;
    if (char === '{') {
      const before = script.slice(Math.max(0, index - CONTEXT), index);
      const drop = FUNCTION_HEAD.test(before) && !LOAD_HOOK.test(before);
      braces.push(drop);
      if (drop) dropped += 1;
    } else if (char === '}' && braces.length > 0) {
      if (braces.pop() === true) {
        dropped -= 1;
        index += 1;
        continue;
      }
    }
    if (dropped === 0) kept += char;
    index += 1;
  }
  return kept;
}
