// OpenSSH's wire formats for an ed25519 key pair and certificate, pure: the public key line
// (`ssh-ed25519 AAAA…`), the private key file (`openssh-key-v1`, unencrypted, as ssh-keygen
// writes it), and the fields of a certificate Vault's SSH engine signed (PROTOCOL.certkeys).

const ED25519 = 'ssh-ed25519';

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/** An SSH `string`: its length, then its bytes. */
function str(data: Buffer | string): Buffer {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  return Buffer.concat([u32(bytes.length), bytes]);
}

function publicBlob(publicKey: Buffer): Buffer {
  return Buffer.concat([str(ED25519), str(publicKey)]);
}

/** `ssh-ed25519 <base64>`, what `public_key` of `<ssh>/sign/<role>` takes. */
export function ed25519PublicLine(publicKey: Buffer): string {
  return `${ED25519} ${publicBlob(publicKey).toString('base64')}`;
}

/**
 * The private key file ssh reads with `-i`: `seed` (32 bytes) and `publicKey` (32 bytes) of the
 * pair, `checkInt` any 32-bit number (a random one, as ssh-keygen writes: it only tells a wrong
 * passphrase, and this file has none).
 */
export function ed25519PrivateFile(seed: Buffer, publicKey: Buffer, checkInt: number, comment: string): string {
  let secret = Buffer.concat([
    u32(checkInt),
    u32(checkInt),
    str(ED25519),
    str(publicKey),
    str(Buffer.concat([seed, publicKey])),
    str(comment),
  ]);
  const padding: number[] = [];
  for (let i = 1; (secret.length + padding.length) % 8 !== 0; i++) padding.push(i);
  secret = Buffer.concat([secret, Buffer.from(padding)]);
  const body = Buffer.concat([
    Buffer.from('openssh-key-v1\0', 'binary'),
    str('none'),
    str('none'),
    str(''),
    u32(1),
    str(publicBlob(publicKey)),
    str(secret),
  ]);
  const lines = body.toString('base64').match(/.{1,70}/g) ?? [];
  return ['-----BEGIN OPENSSH PRIVATE KEY-----', ...lines, '-----END OPENSSH PRIVATE KEY-----', ''].join('\n');
}

export interface SshCertificateInfo {
  type: string;
  serial: string;
  certType: 'user' | 'host';
  keyId: string;
  principals: string[];
  /** Unix seconds; 0 and 2^64-1 mean no bound. */
  validAfter: bigint;
  validBefore: bigint;
  /** The key the certificate is for, as `ssh-… base64`. */
  publicKey?: string;
}

class Reader {
  private at = 0;
  constructor(private readonly b: Buffer) {}
  u32(): number {
    if (this.at + 4 > this.b.length) throw new Error('truncated');
    const v = this.b.readUInt32BE(this.at);
    this.at += 4;
    return v;
  }
  u64(): bigint {
    if (this.at + 8 > this.b.length) throw new Error('truncated');
    const v = this.b.readBigUInt64BE(this.at);
    this.at += 8;
    return v;
  }
  bytes(): Buffer {
    const n = this.u32();
    if (this.at + n > this.b.length) throw new Error('truncated');
    const v = this.b.subarray(this.at, this.at + n);
    this.at += n;
    return v;
  }
  text(): string {
    return this.bytes().toString('utf8');
  }
  done(): boolean {
    return this.at >= this.b.length;
  }
}

/**
 * The fields of an OpenSSH certificate line (`ssh-ed25519-cert-v01@openssh.com AAAA…`), or
 * undefined when it is not one this reads (ed25519, RSA or ECDSA keys).
 */
export function parseSshCertificate(line: string): SshCertificateInfo | undefined {
  const [type, data] = line.trim().split(/\s+/);
  if (!type || !data || !/-cert-v01@openssh\.com$/.test(type)) return undefined;
  try {
    const r = new Reader(Buffer.from(data, 'base64'));
    if (r.text() !== type) return undefined;
    r.bytes(); // nonce
    const keyType = type.replace(/-cert-v01@openssh\.com$/, '');
    let publicKey: string | undefined;
    if (keyType === ED25519) publicKey = ed25519PublicLine(Buffer.from(r.bytes()));
    else if (keyType === 'ssh-rsa' || keyType.startsWith('ecdsa-sha2-')) {
      r.bytes();
      r.bytes();
    } else return undefined;
    const serial = r.u64().toString();
    const certType = r.u32() === 2 ? 'host' : 'user';
    const keyId = r.text();
    const p = new Reader(Buffer.from(r.bytes()));
    const principals: string[] = [];
    while (!p.done()) principals.push(p.text());
    const validAfter = r.u64();
    const validBefore = r.u64();
    return { type, serial, certType, keyId, principals, validAfter, validBefore, publicKey };
  } catch {
    return undefined;
  }
}

/** A certificate bound as `ssh-keygen -L` shows it: UTC, `forever` for no bound. */
export function sshTime(seconds: bigint): string {
  if (seconds === 0n || seconds === 0xffffffffffffffffn) return 'forever';
  return new Date(Number(seconds) * 1000).toISOString().replace(/\.000Z$/, 'Z');
}
