export declare const ROOT: string;
export declare function isBuildFresh(): boolean;
export declare function isDashboardFresh(): boolean;
export declare function compiledEntry(tsPath: string): string | undefined;
export declare function ensureBuilt(say?: (line: string) => void): void;
