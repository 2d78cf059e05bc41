/** Types of options-doc.mjs, for the test that keeps docs/node-layer.md in sync. */
export declare const docFile: string;
export declare function withOptionTables(doc: string, options: Record<string, unknown>): string;
export declare function sameIgnoringTablePadding(a: string, b: string): boolean;
