import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { keyThumbprint } from './keys.ts';

/*
 * The keys that sign the snapshots funders pull, in `<dataDir>/keys/snapshots/`:
 *
 * - `<kid>.private.pem` (0600) and `<kid>.public.pem` for each key, `kid` being the key's full
 *   RFC 7638 thumbprint, so a file's name can never disagree with the key another process made;
 * - `current`, naming the key that signs now.
 *
 * A rotation makes a new key current and deletes the retired private key: a snapshot it signed
 * still verifies against the public key, which stays published, but nothing can be signed with it
 * again if the data directory leaks later.
 */

export interface SnapshotSigningKey {
  readonly keyId: string;
  readonly privateKey: KeyObject;
}

export interface SnapshotPublicKey {
  readonly keyId: string;
  readonly publicKey: KeyObject;
  readonly status: 'current' | 'retired';
}

const CURRENT = 'current';
/** What a `current` file may name: a SHA-256 thumbprint, base64url. */
const KEY_ID = /^[A-Za-z0-9_-]{43}$/;

/** Writes `text` at `file` only if nothing is there yet: false when another process was first. */
function createExclusively(file: string, text: string, mode: number): boolean {
  const tmp = `${file}.${process.pid}.${Date.now()}.${Math.random().toString(36).slice(2)}.tmp`;
  fs.writeFileSync(tmp, text, { mode });
  try {
    fs.linkSync(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return false;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** Replaces `file` whole: a reader sees the old content or the new, never half of one. */
function replaceAtomically(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  fs.writeFileSync(tmp, text, { mode: 0o644 });
  fs.renameSync(tmp, file);
}

/**
 * How long the key `current` named is signed with before the file is looked at again. A
 * rotation by the command line reaches running servers within it, without a restart; and a
 * snapshot signed meanwhile by the key just retired still verifies (retired keys stay published).
 * Looking at every signature cost a system call per cached snapshot sent.
 */
export const CURRENT_KEY_RECHECK_MS = 1_000;

/**
 * The snapshot signing keys of a data directory. Each process looks at `current` again at most
 * every CURRENT_KEY_RECHECK_MS before it signs, and whenever it publishes the key set, so a
 * rotation made by the command line takes effect in running servers without a restart.
 */
export class SnapshotKeys {
  readonly dir: string;
  private readonly privateKeys = new Map<string, KeyObject>();
  /** `current` as last read, and which file that was: read again only once the file changed. */
  private currentRead: { readonly stamp: string; readonly keyId: string; checkedAt: number } | undefined;

  constructor(
    dataDir: string,
    private readonly clock: () => number = Date.now,
  ) {
    this.dir = path.join(dataDir, 'keys', 'snapshots');
  }

  /** Creates the first key when the directory has none; processes starting together agree on one. */
  ensure(): SnapshotSigningKey {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const named = this.currentKeyId();
    if (named !== null) return this.signingKey(named);
    const keyId = this.createKey();
    // The loser of a race uses the winner's key; its own never signed anything, so it goes.
    if (!createExclusively(this.file(CURRENT), `${keyId}\n`, 0o644)) {
      fs.rmSync(this.file(`${keyId}.private.pem`), { force: true });
      fs.rmSync(this.file(`${keyId}.public.pem`), { force: true });
    }
    return this.signingKey(this.currentKeyId()!);
  }

  /** The key that signs now. */
  current(): SnapshotSigningKey {
    const known = this.currentRead;
    if (known && this.clock() - known.checkedAt < CURRENT_KEY_RECHECK_MS) {
      try {
        return this.signingKey(known.keyId);
      } catch {
        // Rotated meanwhile by another process, which removed the retired private key this one
        // had not loaded yet: `current` names the new one.
      }
    }
    const keyId = this.currentKeyId();
    return keyId === null ? this.ensure() : this.signingKey(keyId);
  }

  /** A new current key; the one it replaces stays published. Returns the new and the retired key ids. */
  rotate(): { keyId: string; retired: string | null } {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const retired = this.currentKeyId();
    const keyId = this.createKey();
    replaceAtomically(this.file(CURRENT), `${keyId}\n`);
    this.currentRead = undefined;
    if (retired !== null && retired !== keyId) {
      fs.rmSync(this.file(`${retired}.private.pem`), { force: true });
      this.privateKeys.delete(retired);
    }
    return { keyId, retired };
  }

  /** Every published public key, the current one first, then the retired ones by key id. */
  publicKeys(): SnapshotPublicKey[] {
    if (!fs.existsSync(this.dir)) return [];
    const current = this.currentKeyId();
    const keys: SnapshotPublicKey[] = [];
    for (const name of fs.readdirSync(this.dir).sort()) {
      if (!name.endsWith('.public.pem')) continue;
      const publicKey = createPublicKey(fs.readFileSync(this.file(name)));
      // The thumbprint of the key itself, not the file's name: a renamed file cannot pass for another key.
      const keyId = keyThumbprint(publicKey);
      keys.push({ keyId, publicKey, status: keyId === current ? 'current' : 'retired' });
    }
    return keys.sort((a, b) =>
      a.status !== b.status ? (a.status === 'current' ? -1 : 1) : a.keyId < b.keyId ? -1 : 1,
    );
  }

  private file(name: string): string {
    return path.join(this.dir, name);
  }

  private currentKeyId(): string | null {
    // A stat, not a read, on every signature: reading the file was a quarter of a cached
    // snapshot's cost. A rotation replaces the file (a new inode), which the stamp sees.
    const stat = fs.statSync(this.file(CURRENT), { bigint: true, throwIfNoEntry: false });
    if (stat === undefined) return null;
    const stamp = `${stat.ino}:${stat.mtimeNs}:${stat.size}`;
    if (this.currentRead?.stamp === stamp) {
      this.currentRead.checkedAt = this.clock();
      return this.currentRead.keyId;
    }
    let text: string;
    try {
      text = fs.readFileSync(this.file(CURRENT), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    const keyId = text.trim();
    if (!KEY_ID.test(keyId)) throw new Error(`${this.file(CURRENT)} does not name a key`);
    this.currentRead = { stamp, keyId, checkedAt: this.clock() };
    return keyId;
  }

  private signingKey(keyId: string): SnapshotSigningKey {
    let privateKey = this.privateKeys.get(keyId);
    if (!privateKey) {
      privateKey = createPrivateKey(fs.readFileSync(this.file(`${keyId}.private.pem`)));
      if (keyThumbprint(createPublicKey(privateKey)) !== keyId) {
        throw new Error(`${this.file(`${keyId}.private.pem`)} holds another key than its name says`);
      }
      this.privateKeys.set(keyId, privateKey);
    }
    return { keyId, privateKey };
  }

  /** A new key pair on disk, the public half first, so a key that signs is always published. */
  private createKey(): string {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const keyId = keyThumbprint(publicKey);
    createExclusively(
      this.file(`${keyId}.public.pem`),
      publicKey.export({ format: 'pem', type: 'spki' }).toString(),
      0o644,
    );
    createExclusively(
      this.file(`${keyId}.private.pem`),
      privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
      0o600,
    );
    return keyId;
  }
}
