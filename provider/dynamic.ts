/**
 * Helpers for the dynamic-provider protocol, shared by every resource implementation.
 */

/** The sentinel string Pulumi passes for values that are not known yet (during preview). */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export function isUnknown(value: unknown): boolean {
  return value === UNKNOWN;
}

/** Removes the serialized provider (`__provider`) that Pulumi adds to every dynamic resource's inputs. */
export function stripProvider<T extends object>(props: T): Record<string, unknown> {
  const { __provider: _ignored, ...rest } = props as Record<string, unknown>;
  return rest;
}
