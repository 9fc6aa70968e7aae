import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { PersonalKeyStore } from '@ptce/event-store';
import { type SealedText, sealedTextSchema } from '@ptce/events';

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Stored as a subject of its own: no person's subject (`{ptceId}/{organisationId}`) lacks a slash. */
const KEK_CHECK_SUBJECT = 'key-encryption-key-check';

export class PersonalDataKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PersonalDataKeyError';
  }
}

/**
 * The key-encryption key: `PERSONAL_DATA_KEY` (32 bytes, base64 or base64url) when set, else the
 * file `PERSONAL_DATA_KEY_FILE`, created on first start, readable by its owner alone. Every
 * process of a deployment must be given the same one, and a backup must keep it apart from the
 * data: whoever holds both reads every person not yet erased.
 */
export function loadKeyEncryptionKey(options: {
  readonly key?: string | undefined;
  readonly file: string;
}): Buffer {
  if (options.key !== undefined) return decodeKey(options.key, 'PERSONAL_DATA_KEY');
  const { file } = options;
  if (!fs.existsSync(file)) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    // Written whole under another name, then linked in place: a process of the deployment
    // starting at the same moment never reads a half-written key, and the first link wins.
    const draft = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
    fs.writeFileSync(draft, `${randomBytes(KEY_BYTES).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
    try {
      fs.linkSync(draft, file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    } finally {
      fs.rmSync(draft, { force: true });
    }
  }
  const mode = fs.statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new PersonalDataKeyError(
      `${file} is readable by others (mode ${mode.toString(8)}): it holds the key of every person's data; chmod 600 it`,
    );
  }
  return decodeKey(fs.readFileSync(file, 'utf8').trim(), file);
}

function decodeKey(text: string, source: string): Buffer {
  const key = Buffer.from(text.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''), 'base64url');
  if (key.length !== KEY_BYTES || !/^[A-Za-z0-9+/_=-]+$/.test(text)) {
    throw new PersonalDataKeyError(`${source}: expected ${KEY_BYTES} random bytes in base64 or base64url`);
  }
  return key;
}

/**
 * The key an Idempotency-Key's request fingerprint is computed under: a plain hash of a body that
 * names a person could be matched against a list of names by whoever reads the keys' table.
 */
export function fingerprintKeyOf(kek: Buffer): Buffer {
  return Buffer.from(
    hkdfSync('sha256', kek, Buffer.alloc(0), 'ptce-ledger idempotency fingerprint', KEY_BYTES),
  );
}

function encrypt(key: Buffer, plaintext: Buffer, aad: string): { iv: Buffer; data: Buffer } {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const data = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  return { iv, data };
}

/** Null when the key does not open it: another key, or bytes altered. */
function decrypt(key: Buffer, iv: Buffer, data: Buffer, aad: string): Buffer | null {
  if (data.length < TAG_BYTES) return null;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    return Buffer.concat([decipher.update(data.subarray(0, data.length - TAG_BYTES)), decipher.final()]);
  } catch {
    return null;
  }
}

/** The data keys a write has unwrapped before deciding, so that sealing needs no I/O. */
export interface SealingKeys {
  /** Undefined when the subject's key was not prepared. */
  seal(subject: string, text: string): SealedText | undefined;
}

/**
 * Per-person encryption of personal fields: each subject's data key is random, made on first
 * use, and kept only wrapped (AES-256-GCM under the key-encryption key, bound to its subject).
 * Unwrapped keys live for one request: an erasure in another process is never answered from a
 * key this one kept.
 */
export class PersonalData {
  /** See `fingerprintKeyOf`. */
  readonly fingerprintKey: Buffer;

  private constructor(
    private readonly keys: PersonalKeyStore,
    private readonly kek: Buffer,
  ) {
    this.fingerprintKey = fingerprintKeyOf(kek);
  }

  /**
   * Checks the key-encryption key against the store first: a process given another key than the
   * one that wrapped the store's data keys would read every person as erased.
   */
  static async open(keys: PersonalKeyStore, kek: Buffer): Promise<PersonalData> {
    const personal = new PersonalData(keys, kek);
    const stored = await keys.obtain(
      KEK_CHECK_SUBJECT,
      personal.wrap(KEK_CHECK_SUBJECT, randomBytes(KEY_BYTES)),
    );
    if (personal.unwrap(KEK_CHECK_SUBJECT, stored) === null) {
      throw new PersonalDataKeyError(
        'the personal data key-encryption key (PERSONAL_DATA_KEY or PERSONAL_DATA_KEY_FILE) is not the one this store was first used with: give every process the same key',
      );
    }
    return personal;
  }

  private wrap(subject: string, key: Buffer): Buffer {
    const { iv, data } = encrypt(this.kek, key, `data-key:${subject}`);
    return Buffer.concat([iv, data]);
  }

  private unwrap(subject: string, wrapped: Buffer): Buffer | null {
    return decrypt(
      this.kek,
      wrapped.subarray(0, IV_BYTES),
      wrapped.subarray(IV_BYTES),
      `data-key:${subject}`,
    );
  }

  /** The keys asked for since the last write to the store, made in one transaction. */
  private pending: {
    readonly candidates: Map<string, Buffer>;
    readonly waiters: { resolve: (stored: Map<string, Buffer>) => void; reject: (error: unknown) => void }[];
  } | null = null;

  /**
   * The stored wrapped keys of these subjects, made when missing. Writes asked for in the same
   * turn of the event loop share one transaction: a new person's key costs a write to disk, and
   * joins arriving together would otherwise pay one each.
   */
  private obtain(subjects: readonly string[]): Promise<Map<string, Buffer>> {
    let pending = this.pending;
    if (!pending) {
      const batch = {
        candidates: new Map<string, Buffer>(),
        waiters: [] as NonNullable<typeof this.pending>['waiters'],
      };
      pending = batch;
      this.pending = batch;
      setImmediate(() => {
        this.pending = null;
        this.keys.obtainMany(batch.candidates).then(
          (stored) => {
            for (const waiter of batch.waiters) waiter.resolve(stored);
          },
          (error: unknown) => {
            for (const waiter of batch.waiters) waiter.reject(error);
          },
        );
      });
    }
    for (const subject of subjects) {
      if (!pending.candidates.has(subject))
        pending.candidates.set(subject, this.wrap(subject, randomBytes(KEY_BYTES)));
    }
    const batch = pending;
    return new Promise((resolve, reject) => batch.waiters.push({ resolve, reject }));
  }

  /** Unwraps (making them when missing) the data keys of these subjects. */
  async prepare(subjects: Iterable<string>): Promise<SealingKeys> {
    const unwrapped = new Map<string, Buffer>();
    const wanted = [...new Set(subjects)];
    const obtained = await this.obtain(wanted);
    for (const subject of wanted) {
      const stored = obtained.get(subject);
      if (!stored)
        throw new PersonalDataKeyError(`the data key of ${subject} was destroyed while it was being created`);
      const key = this.unwrap(subject, stored);
      if (key === null)
        throw new PersonalDataKeyError(
          `the data key of ${subject} does not open with this key-encryption key`,
        );
      unwrapped.set(subject, key);
    }
    return {
      seal: (subject, text) => {
        const key = unwrapped.get(subject);
        if (!key) return undefined;
        const { iv, data } = encrypt(key, Buffer.from(text, 'utf8'), subject);
        return sealedTextSchema.parse({
          sealed: 'A256GCM',
          subject,
          iv: iv.toString('base64url'),
          data: data.toString('base64url'),
        });
      },
    };
  }

  /**
   * The clear text of each sealed field, or null for one whose subject was erased (its key is
   * gone) or that its key does not open.
   */
  async reveal(sealed: readonly SealedText[]): Promise<Map<SealedText, string | null>> {
    const subjects = [...new Set(sealed.map((s) => s.subject))];
    const wrapped = await this.keys.find(subjects);
    const keys = new Map<string, Buffer | null>();
    for (const subject of subjects) {
      const stored = wrapped.get(subject);
      keys.set(subject, stored ? this.unwrap(subject, stored) : null);
    }
    const clear = new Map<SealedText, string | null>();
    for (const s of sealed) {
      const key = keys.get(s.subject);
      const text = key
        ? decrypt(key, Buffer.from(s.iv, 'base64url'), Buffer.from(s.data, 'base64url'), s.subject)
        : null;
      clear.set(s, text === null ? null : text.toString('utf8'));
    }
    return clear;
  }

  /** Destroys the subject's data key: what was sealed under it can never be read again. */
  erase(subject: string): Promise<boolean> {
    return this.keys.destroy(subject);
  }
}
