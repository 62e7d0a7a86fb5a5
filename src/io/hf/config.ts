// Typed reads from a Hugging Face config.json object: each getter names the file and the dotted field when a
// value is missing or has the wrong type, so a bad config is a clear error instead of a NaN deep in a forward.

export type Json = Readonly<Record<string, unknown>>;

/** A cursor over one JSON object, remembering where it came from (`config.json:text_config`). */
export class ConfigReader {
  constructor(readonly obj: Json, readonly where: string) {}

  has(key: string): boolean {
    return this.obj[key] !== undefined && this.obj[key] !== null;
  }

  private fail(key: string, want: string): never {
    const v = this.obj[key];
    throw new Error(`${this.where}: field "${key}" must be ${want}, got ${v === undefined ? 'nothing' : JSON.stringify(v)}`);
  }

  num(key: string, fallback?: number): number {
    const v = this.obj[key];
    if (v === undefined || v === null) return fallback ?? this.fail(key, 'a number');
    return typeof v === 'number' && Number.isFinite(v) ? v : this.fail(key, 'a number');
  }

  int(key: string, fallback?: number): number {
    const v = this.num(key, fallback);
    return Number.isInteger(v) ? v : this.fail(key, 'an integer');
  }

  optInt(key: string): number | null {
    return this.has(key) ? this.int(key) : null;
  }

  str(key: string, fallback?: string): string {
    const v = this.obj[key];
    if (v === undefined || v === null) return fallback ?? this.fail(key, 'a string');
    return typeof v === 'string' ? v : this.fail(key, 'a string');
  }

  bool(key: string, fallback?: boolean): boolean {
    const v = this.obj[key];
    if (v === undefined || v === null) return fallback ?? this.fail(key, 'true or false');
    return typeof v === 'boolean' ? v : this.fail(key, 'true or false');
  }

  /** A nested object as its own reader; null when absent. */
  optChild(key: string): ConfigReader | null {
    const v = this.obj[key];
    if (v === undefined || v === null) return null;
    if (typeof v !== 'object' || Array.isArray(v)) this.fail(key, 'an object');
    return new ConfigReader(v as Json, `${this.where}:${key}`);
  }

  child(key: string): ConfigReader {
    return this.optChild(key) ?? this.fail(key, 'an object');
  }

  /** An integer or a list of integers (e.g. `vision_feature_layer`). */
  intOrInts(key: string, fallback?: number): number | number[] {
    const v = this.obj[key];
    if (Array.isArray(v)) {
      if (v.length === 0 || !v.every((x) => Number.isInteger(x))) this.fail(key, 'an integer or a non-empty list of integers');
      return v as number[];
    }
    return this.int(key, fallback);
  }
}
