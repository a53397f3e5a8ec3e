"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-28 02:53:01.709429
"""
from alembic import op
import sqlalchemy as sa

import storage.types


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=120), nullable=False),
    sa.Column('front_end', sa.String(length=20), nullable=False),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_event_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_event_incident_id'), ['incident_id'], unique=False)

    op.create_table('channel',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform', sa.Enum('telegram', 'slack', 'webhook', name='platform', native_enum=False, length=24), nullable=False),
    sa.Column('address', sa.String(length=500), nullable=False),
    sa.Column('locale', sa.String(length=8), nullable=False),
    sa.Column('min_severity', sa.Integer(), nullable=True),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('disabled_reason', sa.String(length=500), nullable=True),
    sa.Column('secret', sa.String(length=200), nullable=True),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('platform', 'address')
    )
    op.create_table('component',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('removed_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    op.create_table('incident',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('incident', 'maintenance', name='incidentkind', native_enum=False, length=24), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('severity', sa.Integer(), nullable=True),
    sa.Column('status', sa.Enum('investigating', 'identified', 'monitoring', 'resolved', 'scheduled', 'in_progress', 'completed', 'cancelled', name='incidentstatus', native_enum=False, length=24), nullable=False),
    sa.Column('opened_by', sa.String(length=120), nullable=False),
    sa.Column('opened_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('changed_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('window_start', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('window_end', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('auto_transitions', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('incident', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incident_changed_at'), ['changed_at'], unique=False)
        batch_op.create_index('ix_incident_status_opened', ['status', 'opened_at'], unique=False)

    op.create_table('channel_component',
    sa.Column('channel_id', sa.Integer(), nullable=False),
    sa.Column('component_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['channel_id'], ['channel.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['component_id'], ['component.id'], ),
    sa.PrimaryKeyConstraint('channel_id', 'component_id')
    )
    op.create_table('incident_component',
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('component_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['component_id'], ['component.id'], ),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('incident_id', 'component_id')
    )
    op.create_table('incident_update',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('opened', 'update', 'resolved', 'reopened', 'note', 'maintenance_scheduled', 'maintenance_started', 'maintenance_completed', 'maintenance_cancelled', 'maintenance_extended', name='updatekind', native_enum=False, length=24), nullable=False),
    sa.Column('status', sa.Enum('investigating', 'identified', 'monitoring', 'resolved', 'scheduled', 'in_progress', 'completed', 'cancelled', name='incidentstatus', native_enum=False, length=24), nullable=False),
    sa.Column('severity', sa.Integer(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('public', sa.Boolean(), nullable=False),
    sa.Column('author', sa.String(length=120), nullable=False),
    sa.Column('front_end', sa.String(length=20), nullable=False),
    sa.Column('at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('recorded_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('edited_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('incident_id', 'number')
    )
    with op.batch_alter_table('incident_update', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incident_update_incident_id'), ['incident_id'], unique=False)

    op.create_table('delivery',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('update_id', sa.Integer(), nullable=False),
    sa.Column('channel_id', sa.Integer(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('state', sa.Enum('pending', 'sent', 'failed', 'dead', name='deliverystate', native_enum=False, length=24), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('remote_ref', sa.String(length=200), nullable=True),
    sa.Column('sent_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['channel_id'], ['channel.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['update_id'], ['incident_update.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('update_id', 'channel_id', 'revision')
    )
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_delivery_channel_id'), ['channel_id'], unique=False)
        batch_op.create_index('ix_delivery_due', ['state', 'next_attempt_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.drop_index('ix_delivery_due')
        batch_op.drop_index(batch_op.f('ix_delivery_channel_id'))

    op.drop_table('delivery')
    with op.batch_alter_table('incident_update', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incident_update_incident_id'))

    op.drop_table('incident_update')
    op.drop_table('incident_component')
    op.drop_table('channel_component')
    with op.batch_alter_table('incident', schema=None) as batch_op:
        batch_op.drop_index('ix_incident_status_opened')
        batch_op.drop_index(batch_op.f('ix_incident_changed_at'))

    op.drop_table('incident')
    op.drop_table('component')
    op.drop_table('channel')
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_event_incident_id'))
        batch_op.drop_index(batch_op.f('ix_audit_event_at'))

    op.drop_table('audit_event')
