// The zod internals the config loader walks (to resolve env names and --set paths against the
// schema), in one place. Checked against zod 4.6.7; bridge/test/unit/adapters.test.ts fails if
// an upgrade changes them.
import type { z } from 'zod';

export const ZOD_CHECKED = '4.6.7';

export type Schema = z.core.$ZodType;

/** What a schema node is: its type, and the parts of it that hold other schemas. */
export interface SchemaDef {
  type: string;
  /** default/prefault/optional/pipe wrappers. */
  innerType?: Schema;
  shape?: Record<string, Schema>;
  element?: Schema;
  options?: Schema[];
}

export function defOf(s: Schema): SchemaDef {
  return (s as unknown as { _zod: { def: SchemaDef } })._zod.def;
}
