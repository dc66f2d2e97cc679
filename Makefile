# Convenience targets; the README's two commands (npm ci && npm start, npm test) are the contract.
.PHONY: start test status up bench

start:
	npm start

test:
	npm test

status:
	@node bin/kestrel.js status

up:
	node bin/kestrel.js up

bench:
	npm run bench
