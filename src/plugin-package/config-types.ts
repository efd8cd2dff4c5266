/**
 * A plugin declares its config twice: as JSON Schema in plugin.yaml (what the
 * daemon validates, with defaults) and as the TypeScript type it gives
 * `definePlugin<Config>` (what its code reads). This compares the two with
 * the TypeScript compiler, so `trellis plugin build` and the bundled plugins'
 * unit test catch a key that is in one and not the other, a key typed
 * optional that always has a value (or the other way round), or a value
 * kind (string, number, boolean, array, object, null) that differs.
 *
 * Only what both sides state plainly is compared: `unknown`/`any`, `$ref`,
 * `anyOf`/`oneOf`/`allOf` and types TypeScript cannot resolve are skipped,
 * never reported. `typescript` is loaded only when a check runs.
 */
import type * as TS from 'typescript';
import type { JsonSchemaObject } from './manifest.ts';

export interface ConfigTypeTarget {
  /** The plugin's entry module (`main`), a .ts file. */
  entry: string;
  /** Its manifest's `config_schema`. */
  schema: JsonSchemaObject;
}

export type ConfigTypeResult =
  /** `typeName` is how the entry names its config type, e.g. `Config`. */
  { checked: true; typeName: string; problems: string[] } | { checked: false; reason: string };

type Kind = 'string' | 'number' | 'boolean' | 'array' | 'object' | 'null';

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Loads the compiler from this project's (dev) dependencies; null when it is not installed. */
async function loadTypeScript(): Promise<typeof TS | null> {
  try {
    // CommonJS: Node puts the module under `default`.
    const mod = (await import('typescript')) as typeof TS & { default?: typeof TS };
    return mod.default ?? mod;
  } catch {
    return null;
  }
}

/**
 * Compares each target's `definePlugin<Config>` type with its schema. One
 * compiler program serves every target, so checking many plugins costs
 * about as much as checking one.
 */
export async function checkConfigTypes(targets: ConfigTypeTarget[]): Promise<ConfigTypeResult[]> {
  const tsOrNull = await loadTypeScript();
  if (!tsOrNull) return targets.map(() => ({ checked: false, reason: 'the typescript package is not installed (npm install --save-dev typescript)' }));
  const ts = tsOrNull;
  const options: TS.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2022.d.ts'],
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    noEmit: true,
    allowImportingTsExtensions: true,
    resolveJsonModule: true,
    skipLibCheck: true,
    types: [],
  };
  // Only the entry and the plugin's own files it imports: a config type is made of those.
  // Packages (trellis/sdk, npm) stay unresolved, which keeps this fast; a type from one is skipped.
  const host = ts.createCompilerHost(options);
  host.resolveModuleNameLiterals = (literals, containingFile, _redirect, compilerOptions) =>
    literals.map((literal) => (/^\.\.?\//.test(literal.text) ? ts.resolveModuleName(literal.text, containingFile, compilerOptions, host) : { resolvedModule: undefined }));
  const program = ts.createProgram({ rootNames: targets.map((t) => t.entry), options, host });
  const checker = program.getTypeChecker();

  return targets.map((target): ConfigTypeResult => {
    if (!/\.(c|m)?tsx?$/.test(target.entry)) return { checked: false, reason: `${target.entry} is not TypeScript` };
    const source = program.getSourceFile(target.entry);
    if (!source) return { checked: false, reason: `${target.entry} could not be read` };
    const typeNode = findConfigTypeNode(ts, source);
    if (!typeNode) return { checked: false, reason: `${target.entry} has no definePlugin<Config>(…) call naming its config type` };
    const problems: string[] = [];
    const typeName = typeNode.getText(source);
    new Comparison(ts, checker, typeName, problems).object(target.schema, checker.getTypeFromTypeNode(typeNode), '');
    return { checked: true, typeName, problems };
  });
}

/** The type argument of the entry's `definePlugin<Config>(…)` call. */
function findConfigTypeNode(ts: typeof TS, source: TS.SourceFile): TS.TypeNode | undefined {
  let found: TS.TypeNode | undefined;
  const visit = (node: TS.Node): void => {
    if (found) return;
    if (ts.isCallExpression(node) && node.typeArguments?.length) {
      const callee = node.expression;
      const name = ts.isIdentifier(callee) ? callee.text : ts.isPropertyAccessExpression(callee) ? callee.name.text : '';
      if (name === 'definePlugin') {
        found = node.typeArguments[0];
        return;
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

class Comparison {
  readonly #ts: typeof TS;
  readonly #checker: TS.TypeChecker;
  readonly #typeName: string;
  readonly #problems: string[];

  constructor(ts: typeof TS, checker: TS.TypeChecker, typeName: string, problems: string[]) {
    this.#ts = ts;
    this.#checker = checker;
    this.#typeName = typeName;
    this.#problems = problems;
  }

  #where(path: string): string {
    return path === '' ? this.#typeName : `${this.#typeName}.${path}`;
  }

  /** An object schema with `properties` against an object type. */
  object(schema: JsonSchemaObject, type: TS.Type, path: string): void {
    const properties = schema.properties;
    if (!isObject(properties)) return;
    const required = new Set(Array.isArray(schema.required) ? schema.required.filter((k): k is string => typeof k === 'string') : []);
    const join = (key: string) => (path === '' ? key : `${path}.${key}`);
    for (const [key, sub] of Object.entries(properties)) {
      const symbol = this.#checker.getPropertyOfType(type, key);
      if (!symbol) {
        this.#problems.push(`${join(key)}: in config_schema but not in ${this.#where(path)}; add it to the type (or remove it from the schema)`);
        continue;
      }
      const schemaSays = isObject(sub) ? sub : {};
      const alwaysThere = required.has(key) || Object.hasOwn(schemaSays, 'default');
      const optional = (symbol.flags & this.#ts.SymbolFlags.Optional) !== 0;
      const propertyType = this.#checker.getTypeOfSymbol(symbol);
      const mayBeMissing =
        optional ||
        (propertyType.flags & (this.#ts.TypeFlags.Any | this.#ts.TypeFlags.Unknown)) !== 0 ||
        (propertyType.isUnion() && propertyType.types.some((t) => t.flags & this.#ts.TypeFlags.Undefined));
      if (alwaysThere && optional) {
        this.#problems.push(`${join(key)}: optional (?) in ${this.#typeName}, but the schema ${required.has(key) ? 'requires it' : 'gives it a default'}, so it is always set; drop the ?`);
      } else if (!alwaysThere && !mayBeMissing) {
        this.#problems.push(`${join(key)}: always set according to ${this.#typeName}, but the schema neither requires it nor gives it a default; mark it optional (${key}?:) or add a default`);
      }
      this.value(schemaSays, propertyType, join(key));
    }
    for (const symbol of this.#checker.getPropertiesOfType(type)) {
      if (!Object.hasOwn(properties, symbol.name)) {
        this.#problems.push(`${join(symbol.name)}: in ${this.#typeName} but not in config_schema; add it to the schema (or remove it from the type)`);
      }
    }
  }

  /** One value: its kinds, enum literals, and what is inside arrays and objects. */
  value(schema: JsonSchemaObject, type: TS.Type, path: string): void {
    const ts = this.#ts;
    if (['$ref', 'anyOf', 'oneOf', 'allOf', 'not', 'if'].some((k) => k in schema)) return;
    const expected = schemaKinds(schema);
    const parts = (type.isUnion() ? type.types : [type]).filter((t) => !(t.flags & ts.TypeFlags.Undefined));
    const kinds = new Set<Kind>();
    for (const part of parts) {
      const kind = this.#kind(part);
      if (kind === undefined) return; // any, unknown, unresolved: nothing to compare
      kinds.add(kind);
    }
    if (expected && !sameSet(expected, kinds)) {
      this.#problems.push(`${path}: the schema says ${[...expected].join(' or ')}, ${this.#typeName} says ${[...kinds].join(' or ') || 'never'}`);
      return;
    }
    if (Array.isArray(schema.enum) && parts.length > 0 && parts.every((p) => p.isStringLiteral() || p.isNumberLiteral())) {
      const literals = new Set(parts.map((p) => (p as TS.LiteralType).value as string | number));
      const allowed = new Set(schema.enum.filter((v): v is string | number => typeof v === 'string' || typeof v === 'number'));
      if (!sameSet(allowed, literals)) {
        const show = (values: Set<string | number>) => [...values].map((v) => JSON.stringify(v)).join(' | ');
        this.#problems.push(`${path}: the schema allows ${show(allowed)}, ${this.#typeName} says ${show(literals)}`);
      }
    }
    for (const part of parts) {
      const kind = this.#kind(part);
      if (kind === 'array' && isObject(schema.items) && this.#checker.isArrayType(part)) {
        const [element] = this.#checker.getTypeArguments(part as TS.TypeReference);
        if (element) this.value(schema.items, element, `${path}[]`);
      } else if (kind === 'object' && isObject(schema.properties)) {
        this.object(schema, part, path);
      }
    }
  }

  #kind(type: TS.Type): Kind | undefined {
    const F = this.#ts.TypeFlags;
    if (type.flags & (F.Any | F.Unknown | F.Never)) return undefined;
    if (type.flags & F.StringLike) return 'string';
    if (type.flags & F.NumberLike) return 'number';
    if (type.flags & F.BooleanLike) return 'boolean';
    if (type.flags & F.Null) return 'null';
    if (this.#checker.isArrayType(type) || this.#checker.isTupleType(type)) return 'array';
    if (type.flags & (F.Object | F.NonPrimitive)) return 'object';
    return undefined;
  }
}

/** What kinds of value a schema allows, from `type`, `enum` or `const`; undefined when it does not say. */
function schemaKinds(schema: JsonSchemaObject): Set<Kind> | undefined {
  const kindOf = (value: unknown): Kind => (value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value === 'object' ? 'object' : (typeof value as 'string' | 'number' | 'boolean'));
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    return new Set(types.map((t) => (t === 'integer' ? 'number' : t) as Kind));
  }
  if (Array.isArray(schema.enum)) return new Set(schema.enum.map(kindOf));
  if ('const' in schema) return new Set([kindOf(schema.const)]);
  return undefined;
}

function sameSet<T>(a: Set<T>, b: Set<T>): boolean {
  return a.size === b.size && [...a].every((v) => b.has(v));
}
