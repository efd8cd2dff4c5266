/**
 * Where the daemon's files are, whether it runs its TypeScript source or the
 * JavaScript that scripts/build-server.ts compiles into dist/ (same tree,
 * one level down).
 */
import { existsSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';

/** The tree the running code belongs to: the checkout (source) or its dist/ (compiled). Holds src/ and plugins/. */
export const CODE_ROOT = join(import.meta.dirname, '..', '..');

/** The project: package.json, node_modules, console/, .venv. The checkout in both cases. */
export const PROJECT_ROOT = existsSync(join(CODE_ROOT, 'package.json')) ? CODE_ROOT : dirname(CODE_ROOT);

/** `.ts` when running the source, `.js` when compiled: for modules named by path at run time. */
export const MODULE_EXT = extname(import.meta.filename);
