import type * as pulumi from "@pulumi/pulumi";

/**
 * Builds the provider object Pulumi serializes into a dynamic resource's state (`__provider`).
 *
 * Each kind's shim is the whole `module.exports` of `provider/shims/<kind>.ts`, exported by the
 * package as `pulumi-ovmf/shims/<kind>`. Pulumi's closure serializer captures a module under
 * node_modules by reference, so the stored provider is just `require("pulumi-ovmf/shims/<kind>")`:
 * no provider code in the state, and an upgraded package serves resources an older one created.
 * When the package is not a real copy under node_modules (symlinked, or a local path) the serializer
 * captures these closures by value instead; they still only hold the kind name and load the
 * implementation from the installed package at call time.
 */
export function providerShim(kind: string): pulumi.dynamic.ResourceProvider {
  /* eslint-disable @typescript-eslint/no-require-imports -- resolved at call time, in the dynamic-provider process */
  const impl = () => require("pulumi-ovmf/provider").providers[kind];
  return {
    check: (olds, news) => impl().check(olds, news),
    diff: (id, olds, news) => impl().diff(id, olds, news),
    create: (inputs) => impl().create(inputs),
    read: (id, props) => impl().read(id, props),
    update: (id, olds, news) => impl().update(id, olds, news),
    delete: (id, props) => impl().delete(id, props),
  };
  /* eslint-enable @typescript-eslint/no-require-imports */
}
