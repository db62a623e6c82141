// Prints the JSON Schema of ptefarm-matrix/2 (src/matrix/schema.ts), stored as
// docs/matrix.schema.json: `npx tsx scripts/matrix-schema.ts > docs/matrix.schema.json`.
import { matrixJsonSchema } from '../src/matrix/schema.ts';

process.stdout.write(JSON.stringify(matrixJsonSchema(), null, 2) + '\n');
