// The full rule catalogue: the machine's rules plus the PAGEMAP_SCAN, content-oracle and hugetlb rules.
import { MODEL_RULES, type Rule } from './rules.ts';
import { SCAN_RULES } from './scan.ts';
import { CONTENT_RULES } from './content.ts';
import { HUGETLB_RULES } from './hugetlb.ts';

export const ALL_RULES: readonly Rule[] = [...MODEL_RULES, ...SCAN_RULES, ...CONTENT_RULES, ...HUGETLB_RULES];
/** Rule ids as coverage counts them (scan sub-rules fold into their parent id). */
export const RULE_IDS: readonly string[] = [...new Set(ALL_RULES.map((r) => r.id.split('.')[0]))];
