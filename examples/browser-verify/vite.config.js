import { defineConfig } from 'vite';

// Relative asset URLs: the built page works from any folder (or a file server's sub-path).
export default defineConfig({ base: './', build: { target: 'es2022' } });
