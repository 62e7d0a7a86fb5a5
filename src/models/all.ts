// Imports every model family so each registers its model types (see registry.ts). One line per family.
export {};
