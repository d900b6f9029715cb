// Regenerates what the README and docs/ derive from the code: the fault catalogue and buyer
// table (from the fault registry), the fault × protocol table (from the payment personalities)
// and the JSON Schemas. Run after `npm run build`.
import { readFile, writeFile } from 'node:fs/promises';
import { withCatalogue } from '../dist/reports/fault-catalogue.js';
import { scenarioJsonSchema } from '../dist/core/scenario-schema.js';
import { reportJsonSchema } from '../dist/core/report-schema.js';
import { targetProfileJsonSchema } from '../dist/core/target-schema.js';
import { FAULT_FORMS } from '../dist/mocks/payment/personalities/index.js';
import { withProtocolFaultTable } from '../dist/mocks/payment/personalities/fault-table.js';

const readme = new URL('../README.md', import.meta.url);
await writeFile(readme, withProtocolFaultTable(withCatalogue(await readFile(readme, 'utf8')), FAULT_FORMS));
await writeFile(new URL('../docs/scenario.schema.json', import.meta.url), `${JSON.stringify(scenarioJsonSchema(), null, 2)}\n`);
await writeFile(new URL('../docs/report.schema.json', import.meta.url), `${JSON.stringify(reportJsonSchema(), null, 2)}\n`);
await writeFile(new URL('../docs/target.schema.json', import.meta.url), `${JSON.stringify(targetProfileJsonSchema(), null, 2)}\n`);
