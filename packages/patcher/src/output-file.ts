import { constants } from 'node:fs';
import { access, open, rename, rm, stat, utimes, type FileHandle } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { PatcherError } from './errors.js';

/** Whether every byte is 0, checked four bytes at a time where aligned. */
function isAllZero(data: Uint8Array): boolean {
  const head = (4 - (data.byteOffset & 3)) & 3;
  if (data.length < head + 4) return data.every((byte) => byte === 0);
  for (let i = 0; i < head; i++) if (data[i] !== 0) return false;
  const words = new Uint32Array(data.buffer, data.byteOffset + head, (data.length - head) >>> 2);
  for (let i = 0; i < words.length; i++) if (words[i] !== 0) return false;
  for (let i = head + words.length * 4; i < data.length; i++) if (data[i] !== 0) return false;
  return true;
}

function ioError(what: string, cause: unknown): PatcherError {
  return new PatcherError('ERR_PATCHER_IO', `${what}: ${(cause as Error).message}`, { cause });
}

/**
 * The temporary file a target is written into, beside the output: `<output>.gosync-part`.
 * Positional writes; {@link OutputFile.commit} syncs it and renames it over the output, so an
 * existing output is replaced whole or not at all. @internal
 */
export class OutputFile {
  readonly path: string;
  readonly output: string;
  readonly #file: FileHandle;

  private constructor(output: string, path: string, file: FileHandle) {
    this.output = output;
    this.path = path;
    this.#file = file;
  }

  static partPath(output: string): string {
    return `${output}.gosync-part`;
  }

  static async create(output: string, length: number): Promise<OutputFile> {
    const path = OutputFile.partPath(output);
    let file: FileHandle | undefined;
    try {
      file = await open(path, 'w+');
      await file.truncate(length);
      return new OutputFile(output, path, file);
    } catch (cause) {
      await file?.close();
      throw ioError(`cannot create ${path} (${length} bytes)`, cause);
    }
  }

  async write(data: Uint8Array, offset: number): Promise<void> {
    // The part file starts as a hole of zeros and every byte is written once: zeros need no
    // write, so runs of zeros (disk images) stay sparse and cost no disk time.
    if (isAllZero(data)) return;
    let done = 0;
    try {
      while (done < data.length) {
        const { bytesWritten } = await this.#file.write(data, done, data.length - done, offset + done);
        done += bytesWritten;
      }
    } catch (cause) {
      throw ioError(`cannot write ${this.path} at offset ${offset + done}`, cause);
    }
  }

  async read(offset: number, length: number, into: Uint8Array): Promise<Uint8Array> {
    const buffer = into.subarray(0, length);
    let done = 0;
    try {
      while (done < length) {
        const { bytesRead } = await this.#file.read(buffer, done, length - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
    } catch (cause) {
      throw ioError(`cannot read back ${this.path} at offset ${offset + done}`, cause);
    }
    return buffer.subarray(0, done);
  }

  async sync(): Promise<void> {
    try {
      await this.#file.sync();
    } catch (cause) {
      throw ioError(`cannot flush ${this.path} to disk`, cause);
    }
  }

  async close(): Promise<void> {
    await this.#file.close().catch(() => undefined);
  }

  /** Closes, then renames the part file over the output; sets its mtime when given. */
  async commit(mtimeSeconds?: number): Promise<void> {
    await this.close();
    try {
      if (mtimeSeconds !== undefined) await utimes(this.path, mtimeSeconds, mtimeSeconds);
      await rename(this.path, this.output);
    } catch (cause) {
      throw ioError(`cannot move ${this.path} to ${this.output}`, cause);
    }
  }
}

/**
 * Fails at once when the output's directory is missing or not writable (the part file is created
 * there), rather than after a scan that may take minutes. Without side effects: nothing is created.
 * @internal
 */
export async function checkOutputDirectory(output: string): Promise<void> {
  const directory = dirname(resolve(OutputFile.partPath(output)));
  try {
    await access(directory, constants.W_OK | constants.X_OK);
  } catch (cause) {
    throw ioError(`cannot write ${output}: its directory ${directory} is missing or not writable`, cause);
  }
}

/**
 * When an earlier run left `<output>.gosync-part`, moves it to `<output>.gosync-resume` so this
 * run can use it as a seed while it writes a new part file. A run that resumed deletes the resume
 * file once it has copied from it (its part file then holds all of it): when both files are
 * there, the run before stopped earlier than that, and its part file may hold less than the resume
 * file, which is kept and the part file dropped. @internal
 */
export async function takeResumeFile(output: string): Promise<string | undefined> {
  const part = OutputFile.partPath(output);
  const resume = `${output}.gosync-resume`;
  try {
    if (!(await stat(part)).isFile()) return undefined;
  } catch {
    return existsFile(resume);
  }
  if ((await existsFile(resume)) !== undefined) {
    await removeFile(part);
    return resume;
  }
  try {
    await rename(part, resume);
  } catch (cause) {
    throw ioError(`cannot move ${part} aside to resume from it`, cause);
  }
  return resume;
}

async function existsFile(path: string): Promise<string | undefined> {
  try {
    return (await stat(path)).isFile() ? path : undefined;
  } catch {
    return undefined;
  }
}

/** Removes a file, ignoring one that is already gone. @internal */
export async function removeFile(path: string): Promise<void> {
  await rm(path, { force: true });
}
