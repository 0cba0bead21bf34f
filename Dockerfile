FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY pyproject.toml README.md alembic.ini ./
COPY backend backend
COPY worker worker
COPY migrations migrations
COPY web web
RUN pip install --no-cache-dir -e .
EXPOSE 8080
CMD ["concord", "serve", "--host", "0.0.0.0", "--port", "8080"]
