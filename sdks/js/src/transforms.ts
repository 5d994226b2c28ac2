/**
 * Transforms as values in the data (`{views: increment(1)}`), turned into the API's
 * `transforms` list (`[{"field": "views", "op": "increment", "value": 1}]`), which the
 * server applies inside the write's transaction.
 */

export type TransformOp = "increment" | "max" | "min" | "arrayUnion" | "arrayRemove" | "serverTimestamp" | "delete";

export interface Transform {
  field: string;
  op: TransformOp;
  value?: unknown;
}

export class FieldTransform {
  constructor(
    readonly op: TransformOp,
    readonly value?: unknown,
  ) {}
}

export const increment = (by: number): FieldTransform => new FieldTransform("increment", by);
export const maximum = (value: number | string): FieldTransform => new FieldTransform("max", value);
export const minimum = (value: number | string): FieldTransform => new FieldTransform("min", value);
export const arrayUnion = (...values: unknown[]): FieldTransform => new FieldTransform("arrayUnion", values);
export const arrayRemove = (...values: unknown[]): FieldTransform => new FieldTransform("arrayRemove", values);
export const serverTimestamp = (): FieldTransform => new FieldTransform("serverTimestamp");
export const deleteField = (): FieldTransform => new FieldTransform("delete");

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof FieldTransform);
}

/** Split data into plain JSON and the transforms found in it (dotted field paths). */
export function splitTransforms(data: Record<string, unknown>, prefix = ""): { data: Record<string, unknown>; transforms: Transform[] } {
  const plain: Record<string, unknown> = {};
  const transforms: Transform[] = [];
  for (const [key, value] of Object.entries(data)) {
    const field = prefix ? `${prefix}.${key}` : key;
    if (value instanceof FieldTransform) {
      transforms.push(value.value === undefined ? { field, op: value.op } : { field, op: value.op, value: value.value });
    } else if (isPlainObject(value)) {
      const inner = splitTransforms(value, field);
      transforms.push(...inner.transforms);
      if (Object.keys(inner.data).length > 0 || inner.transforms.length === 0) plain[key] = inner.data;
    } else {
      plain[key] = value;
    }
  }
  return { data: plain, transforms };
}
