/**
 * What the hub may repeat of text it did not write (a caller's field names and ids, a peer's error words) in
 * answers, logs and dead-letter reasons. Personal data (a CCCD, a phone number, a name) must never reach the
 * application log, and the hub cannot recognise every name; so it shows only what looks like an identifier of a
 * schema, and masks every long run of digits, also when grouped ("038 095 999 901", "0912.345.678").
 */

/** Nine or more digits, each pair separated by at most one space, dot or dash: a CCCD, CMND or phone number. */
const DIGIT_RUN = /\d(?:[ .-]?\d){8,}/g;
/** Five digits in a row inside a name: no field name needs them, an id or a phone number has them. */
const DIGITS_IN_NAME = /\d{5}/;
/** How a schema names a field or an element: ASCII letters, digits, _ . - (a name with diacritics may be a person's). */
const NAME = /^[A-Za-z_$][A-Za-z0-9_$./~-]{0,63}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

export const NOT_SHOWN = '(không hiển thị / not shown)';

/** `text` with every long run of digits cut to its first two and its length. */
export function maskDigitRuns(text: string): string {
  return text.replace(DIGIT_RUN, (run) => `${run.slice(0, 2)}…(${run.replace(/\D/g, '').length} chữ số / digits)`);
}

/** True when `name` may be repeated: shaped like a field or element name, with no long run of digits. */
export function isShowableName(name: string): boolean {
  return NAME.test(name) && !DIGITS_IN_NAME.test(name);
}

/** `name` when it may be repeated, otherwise NOT_SHOWN. */
export function showName(name: string): string {
  return isShowableName(name) ? name : NOT_SHOWN;
}

/**
 * A request or correlation id a caller chose is logged on every line of its request: a UUID, or a short token
 * without nine digits in a row ("001099999982" or "cccd-038095999901" may be a person's; the hub issues its own
 * then). Grouped digits ("mc-2025-000123") are how systems number their own requests, and pass.
 */
export function isSafeRequestId(id: string): boolean {
  return UUID.test(id) || (REQUEST_ID.test(id) && !/\d{9}/.test(id));
}
