// Module resolution hook: resolvers import '@aws-appsync/utils' (provided by AppSync at run time);
// under Node that specifier resolves to our stand-in, with no npm package involved.
const STAND_IN = new URL('./appsync-utils.mjs', import.meta.url).href;

export async function resolve(specifier, context, nextResolve) {
  if (specifier === '@aws-appsync/utils') return { url: STAND_IN, shortCircuit: true };
  return nextResolve(specifier, context);
}
