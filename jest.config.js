// `npx jest [paths]`: every project's suite in one run (each project also has its own
// jest.config.js, which `nx test <project>` runs).
const { existsSync, readdirSync } = require('node:fs');
const { join } = require('node:path');

const projectDirs = [
  ...['apps', 'libs'].flatMap((group) =>
    readdirSync(join(__dirname, group)).map((name) => `${group}/${name}`),
  ),
  'tools',
];

module.exports = {
  rootDir: __dirname,
  projects: projectDirs
    .filter((dir) => existsSync(join(__dirname, dir, 'jest.config.js')))
    .map((dir) => `<rootDir>/${dir}/jest.config.js`),
  testTimeout: 60_000,
  maxWorkers: 2,
};
