# Convenience targets; README's commands are `python3 dev.py quickstart` and `python3 dev.py test`.
.PHONY: quickstart test bench
quickstart:
	python3 dev.py quickstart
test:
	python3 dev.py test
bench:
	python3 dev.py bench
