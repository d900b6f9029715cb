/**
 * An HTML form read the way a browser submits it (HTML's "constructing the entry list"): every
 * named control the form owns (descendants, and elements elsewhere with `form="<id>"`), except
 * disabled ones, unchecked checkboxes and radios, unselected options, buttons that were not
 * clicked; the clicked button's own name and value, and its `formaction` / `formmethod` /
 * `formenctype`. A file input sends no file, as a browser with none chosen: an empty value
 * (urlencoded), an empty unnamed file part (multipart).
 */
import type { Cheerio, CheerioAPI } from 'cheerio';
import { OrdealError } from '../../../core/errors.js';

/** Cheerio's element node type, named through cheerio's own signatures. */
export type ElementSelection = ReturnType<Cheerio<never>['find']>;
export type DomElement = ElementSelection[number];

export type FormMethod = 'GET' | 'POST';
export type FormEnctype = 'application/x-www-form-urlencoded' | 'multipart/form-data' | 'text/plain';
export type FormEntry = readonly [name: string, value: string];

export interface SubmitButton {
  /** What the buyer reads on it: a `<button>`'s text, a submit input's value, an image button's alt. */
  label: string;
  name?: string;
  value: string;
  /** The button's `formaction` (resolved), `formmethod`, `formenctype`, when it overrides the form's. */
  action?: string;
  method?: FormMethod;
  enctype?: FormEnctype;
  /** An image button submits click coordinates (`name.x`, `name.y`) instead of a value. */
  image: boolean;
}

/**
 * Which button is clicked: its label (whitespace-collapsed, case-insensitive equality) or a RegExp
 * tested on the label, or its name (and value).
 */
export type ButtonQuery = string | RegExp | { name: string; value?: string };

/** What a click sends: the session encodes it (query string for GET, body for POST). */
export interface FormSubmission {
  method: FormMethod;
  /** Absolute URL the form goes to. */
  url: string;
  enctype: FormEnctype;
  entries: FormEntry[];
  /** Names of entries that are file inputs (sent as empty file parts in multipart bodies). */
  files: string[];
  /** The page the form is on (sent as Referer and Origin). */
  referer: string;
}

/** Where a form is: its document and the URL its relative links resolve against (`<base href>`). */
export interface FormContext {
  $: CheerioAPI;
  documentUrl: string;
  baseUrl: string;
}

/** Collapses runs of whitespace and trims: text as a reader sees it. */
export function normalizeText(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** Label equality (case-insensitive, whitespace-collapsed) or a RegExp test. */
export function matchesText(text: string, query: string | RegExp): boolean {
  if (typeof query === 'string') return normalizeText(text).toLowerCase() === normalizeText(query).toLowerCase();
  query.lastIndex = 0;
  return query.test(normalizeText(text));
}

/** An absolute URL, or undefined when `href` does not parse against `base`. */
export function resolveUrl(href: string, base: string): string | undefined {
  try {
    return new URL(href.trim(), base).href;
  } catch {
    return undefined;
  }
}

function parseMethod(value: string | undefined): FormMethod | undefined {
  if (value === undefined) return undefined;
  return value.trim().toLowerCase() === 'post' ? 'POST' : 'GET';
}

function parseEnctype(value: string | undefined): FormEnctype | undefined {
  if (value === undefined) return undefined;
  const lower = value.trim().toLowerCase();
  if (lower === 'multipart/form-data' || lower === 'text/plain') return lower;
  return 'application/x-www-form-urlencoded';
}

/** Textarea values are submitted with CRLF line breaks. */
function crlf(value: string): string {
  return value.replace(/\r\n|\r|\n/g, '\r\n');
}

/** The form a control belongs to: its `form` attribute's target (if a form), else its nearest form ancestor. */
function ownerForm($: CheerioAPI, control: DomElement): DomElement | undefined {
  const ref = $(control).attr('form');
  if (ref === undefined) return $(control).parents('form').get(0);
  const target = $.root()
    .find('[id]')
    .filter((_, element) => $(element).attr('id') === ref)
    .get(0);
  return target !== undefined && target.tagName.toLowerCase() === 'form' ? target : undefined;
}

/** Disabled itself, or inside a disabled fieldset (but not in that fieldset's first legend). */
function isDisabled($: CheerioAPI, control: DomElement): boolean {
  if ($(control).attr('disabled') !== undefined) return true;
  return $(control)
    .parents('fieldset')
    .toArray()
    .some((fieldset) => {
      if ($(fieldset).attr('disabled') === undefined) return false;
      const legend = $(fieldset).children('legend').get(0);
      return legend === undefined || !$(control).parents().toArray().includes(legend);
    });
}

function selectedOptions($: CheerioAPI, select: DomElement): DomElement[] {
  const options = $(select).find('option').toArray();
  const chosen = options.filter((option) => $(option).attr('selected') !== undefined);
  if ($(select).attr('multiple') !== undefined) return chosen;
  if (chosen.length > 0) return [chosen[chosen.length - 1]!];
  // A drop-down (size 1) shows, and submits, its first enabled option when none is marked selected.
  const size = Number($(select).attr('size') ?? '1');
  if (size > 1) return [];
  const first = options.find((option) => !isOptionDisabled($, option));
  return first === undefined ? [] : [first];
}

/** An option's value: its `value` attribute (read raw: cheerio's `attr` answers the text), else its collapsed text. */
export function optionValue($: CheerioAPI, option: DomElement): string {
  return option.attribs.value ?? normalizeText($(option).text());
}

function isOptionDisabled($: CheerioAPI, option: DomElement): boolean {
  return $(option).attr('disabled') !== undefined || $(option).closest('optgroup[disabled]').length > 0;
}

interface PlacedButton extends SubmitButton {
  /** How many entries precede it in tree order: where its own entry goes when clicked. */
  position: number;
}

export class HtmlForm {
  readonly id?: string;
  readonly name?: string;
  /** Absolute URL of the form's action (the document's URL when it has none). */
  readonly action: string;
  readonly method: FormMethod;
  readonly enctype: FormEnctype;
  /** The URL of the page the form is on. */
  readonly pageUrl: string;
  private readonly entryList: Array<[string, string]> = [];
  private readonly placedButtons: PlacedButton[] = [];
  private readonly fileNames = new Set<string>();
  /** While reading: the entry of each radio group's checked radio. */
  private readonly checkedRadios = new Map<string, [string, string]>();

  constructor(context: FormContext, form: DomElement) {
    const { $, documentUrl, baseUrl } = context;
    const element = $(form);
    const id = element.attr('id');
    const name = element.attr('name');
    if (id !== undefined) this.id = id;
    if (name !== undefined) this.name = name;
    const action = element.attr('action');
    this.action = action === undefined || action.trim() === '' ? documentUrl : (resolveUrl(action, baseUrl) ?? documentUrl);
    this.method = parseMethod(element.attr('method')) ?? 'GET';
    this.enctype = parseEnctype(element.attr('enctype')) ?? 'application/x-www-form-urlencoded';
    this.pageUrl = documentUrl;
    for (const control of $('input, select, textarea, button').toArray()) {
      if (ownerForm($, control) !== form) continue;
      if (isDisabled($, control) || $(control).closest('datalist').length > 0) continue;
      this.readControl(context, control);
    }
  }

  /** The entries a submission sends (without the clicked button's), in tree order. */
  get fields(): FormEntry[] {
    return this.entryList.map(([name, value]) => [name, value] as const);
  }

  /** The form's submit buttons (enabled ones), in tree order; the first is the default button. */
  get buttons(): SubmitButton[] {
    return this.placedButtons.map(({ position: _position, ...button }) => button);
  }

  /** The first value of a field, or undefined when the form would not send it. */
  get(name: string): string | undefined {
    return this.entryList.find(([entry]) => entry === name)?.[1];
  }

  getAll(name: string): string[] {
    return this.entryList.filter(([entry]) => entry === name).map(([, value]) => value);
  }

  has(name: string): boolean {
    return this.entryList.some(([entry]) => entry === name);
  }

  /**
   * Sets a field as typing, ticking or choosing would: its values replace the old ones where the
   * first one was (appended when the form did not send the field). An array sets several values
   * (a multiple select, checkboxes sharing a name).
   */
  set(name: string, value: string | readonly string[]): this {
    const values = typeof value === 'string' ? [value] : value;
    const at = this.entryList.findIndex(([entry]) => entry === name);
    this.remove(name);
    const entries = values.map((item): [string, string] => [name, item]);
    this.entryList.splice(at < 0 ? this.entryList.length : at, 0, ...entries);
    return this;
  }

  /** Stops sending a field (unticks a checkbox, clears a choice). */
  remove(name: string): this {
    for (let index = this.entryList.length - 1; index >= 0; index -= 1) {
      if (this.entryList[index]![0] === name) this.entryList.splice(index, 1);
    }
    return this;
  }

  /**
   * What clicking a button sends. `undefined` clicks the default (first) submit button, as
   * pressing Enter does; `null` clicks none, as a script's `form.submit()` does.
   * @throws OrdealError ORDEAL_ERR_TARGET_ADAPTER when no enabled button matches `submitter`.
   */
  submission(submitter?: ButtonQuery | null): FormSubmission {
    const button = submitter === null ? undefined : submitter === undefined ? this.placedButtons[0] : this.findButton(submitter);
    const entries: FormEntry[] = this.fields;
    if (button !== undefined) {
      const own: FormEntry[] = button.image
        ? [
            [button.name ? `${button.name}.x` : 'x', '0'],
            [button.name ? `${button.name}.y` : 'y', '0'],
          ]
        : button.name
          ? [[button.name, button.value]]
          : [];
      entries.splice(Math.min(button.position, entries.length), 0, ...own);
    }
    return {
      method: button?.method ?? this.method,
      url: button?.action ?? this.action,
      enctype: button?.enctype ?? this.enctype,
      entries,
      files: [...this.fileNames].filter((name) => this.has(name)),
      referer: this.pageUrl,
    };
  }

  private findButton(query: ButtonQuery): PlacedButton {
    const found = this.placedButtons.find((button) =>
      typeof query === 'string' || query instanceof RegExp
        ? matchesText(button.label, query)
        : button.name === query.name && (query.value === undefined || button.value === query.value),
    );
    if (found !== undefined) return found;
    const labels = this.placedButtons.map((button) => JSON.stringify(button.label)).join(', ') || 'none';
    throw new OrdealError('ORDEAL_ERR_TARGET_ADAPTER', `no enabled submit button matching ${String(typeof query === 'object' && !(query instanceof RegExp) ? JSON.stringify(query) : query)} in the form to ${this.action} (buttons: ${labels})`);
  }

  private readControl(context: FormContext, control: DomElement): void {
    const { $ } = context;
    const element = $(control);
    const tag = control.tagName.toLowerCase();
    const name = element.attr('name') ?? '';
    const value = element.attr('value');
    if (tag === 'button') {
      const type = (element.attr('type') ?? 'submit').toLowerCase();
      if (type !== 'reset' && type !== 'button') this.addButton(context, control, { label: normalizeText(element.text()), value: value ?? '', image: false });
      return;
    }
    if (tag === 'select') {
      if (name === '') return;
      for (const option of selectedOptions($, control)) {
        if (isOptionDisabled($, option)) continue;
        this.entryList.push([name, optionValue($, option)]);
      }
      return;
    }
    if (tag === 'textarea') {
      if (name !== '') this.entryList.push([name, crlf(element.text())]);
      return;
    }
    const type = (element.attr('type') ?? 'text').toLowerCase();
    switch (type) {
      case 'submit':
        this.addButton(context, control, { label: value ?? 'Submit', value: value ?? '', image: false });
        return;
      case 'image':
        this.addButton(context, control, { label: element.attr('alt') ?? '', value: '', image: true });
        return;
      case 'reset':
      case 'button':
        return;
      case 'file':
        if (name === '') return;
        this.fileNames.add(name);
        this.entryList.push([name, '']);
        return;
      case 'checkbox':
      case 'radio':
        if (name === '' || element.attr('checked') === undefined) return;
        if (type === 'radio') {
          // Only one radio of a group stays checked: the last one marked.
          const earlier = this.checkedRadios.get(name);
          if (earlier !== undefined) earlier[1] = value ?? 'on';
          else {
            const entry: [string, string] = [name, value ?? 'on'];
            this.checkedRadios.set(name, entry);
            this.entryList.push(entry);
          }
          return;
        }
        this.entryList.push([name, value ?? 'on']);
        return;
      default:
        if (name === '') return;
        this.entryList.push([name, type === 'hidden' && name === '_charset_' && value === undefined ? 'UTF-8' : (value ?? '')]);
    }
  }

  private addButton(context: FormContext, control: DomElement, button: Pick<SubmitButton, 'label' | 'value' | 'image'>): void {
    const element = context.$(control);
    const placed: PlacedButton = { ...button, position: this.entryList.length };
    const name = element.attr('name');
    if (name !== undefined && name !== '') placed.name = name;
    const action = element.attr('formaction');
    if (action !== undefined && action.trim() !== '') {
      const resolved = resolveUrl(action, context.baseUrl);
      if (resolved !== undefined) placed.action = resolved;
    }
    const method = parseMethod(element.attr('formmethod'));
    if (method !== undefined) placed.method = method;
    const enctype = parseEnctype(element.attr('formenctype'));
    if (enctype !== undefined) placed.enctype = enctype;
    this.placedButtons.push(placed);
  }
}
