/** A stable, machine-readable error code: `ERR_<PACKAGE>_<WHAT>`. Codes are part of the API. */
export type ErrorCode = `ERR_${string}`;

const BRAND: unique symbol = Symbol.for('@gosync/core.GosyncError') as never;

/**
 * Base class of every error thrown by a `@gosync` package.
 *
 * Each package has one subclass (`IndexError`, `BlockSourceError`, …) whose `code` is a
 * string-literal union. Match errors by `code`, never by message text.
 *
 * @example
 * ```ts
 * try { await sync(); } catch (e) {
 *   if (isGosyncError(e, 'ERR_CORE_INVALID_RANGE')) console.error(e.message);
 *   else throw e;
 * }
 * ```
 */
export class GosyncError<C extends ErrorCode = ErrorCode> extends Error {
  /** The stable code of this error; see each package's error code list. */
  readonly code: C;

  /**
   * @param code - stable error code
   * @param message - what was expected, what was found, and where
   * @param options - `cause` when wrapping another error
   */
  constructor(code: C, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
    Object.defineProperty(this, BRAND, { value: true, enumerable: false });
  }
}

/**
 * Tells whether `error` is a {@link GosyncError} (from any copy of `@gosync/core`), optionally
 * with the given code.
 *
 * @param error - any thrown value
 * @param code - when given, the code the error must have
 * @returns true when `error` is a GosyncError (with that code)
 * @example
 * ```ts
 * isGosyncError(new CoreError('ERR_CORE_INVALID_RANGE', 'bad'), 'ERR_CORE_INVALID_RANGE'); // true
 * ```
 */
export function isGosyncError<C extends ErrorCode>(
  error: unknown,
  code?: C,
): error is GosyncError<C> {
  if (typeof error !== 'object' || error === null) return false;
  if (!(error instanceof GosyncError) && (error as Record<symbol, unknown>)[BRAND] !== true) {
    return false;
  }
  return code === undefined || (error as GosyncError).code === code;
}

/** Error codes thrown by `@gosync/core` itself. */
export type CoreErrorCode =
  /** A byte range with a negative, fractional or unsafe offset, or with end before start. */
  | 'ERR_CORE_INVALID_RANGE'
  /** A function argument outside its documented domain (other than a range). */
  | 'ERR_CORE_INVALID_ARGUMENT';

/** The error class of `@gosync/core`. */
export class CoreError extends GosyncError<CoreErrorCode> {}
