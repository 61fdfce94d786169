import * as pulumi from "@pulumi/pulumi";

/**
 * Who creates a resource, for the owner mark the provider writes with what it makes on a host
 * (the domain's metadata, beside the NVRAM file, in the TPM state directory): the stack
 * (`organization/project/stack`) and the resource's URN. A create that finds something another
 * resource marked is refused, and a delete leaves what another resource took over. URNs are known
 * at preview, so this never waits on a deployment.
 * @internal
 */
export function ownerOf(name: string, kind: string, opts: pulumi.CustomResourceOptions | undefined): pulumi.Output<{ stack: string; resource: string }> {
  const stack = `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`;
  // The parent's URN as a plain promise: an Output of a component would make this resource depend
  // on the component, i.e. on all of its children, itself included, and never resolve.
  const parent = opts?.parent;
  const parentUrn = parent === undefined ? undefined : new Promise<string>((resolve) => parent.urn.apply((urn) => resolve(urn)));
  return pulumi.createUrn(name, `pulumi-nodejs:dynamic/ovmf:${kind}`, parentUrn).apply((resource) => ({ stack, resource }));
}
